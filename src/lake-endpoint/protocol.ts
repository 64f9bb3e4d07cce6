/**
 * The AWS JSON 1.1 protocol, as the SDK's Glue and Athena clients speak it: `POST /` with
 * `X-Amz-Target: <prefix>.<Operation>` and a JSON body; answers are JSON with timestamps as epoch-seconds
 * numbers; errors are `{"__type", "message"}` with a 4xx/5xx status.
 *
 * This layer knows nothing about Glue or Athena: services register an operation table under their target
 * prefix. Whatever a request contains, the server answers it (a bad body is a SerializationException, an
 * unknown target an UnknownOperationException, a bug a 500), it never crashes.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { Logger } from './logger';
import { errorMessage, type InputErrorFactory, LakeApiError, protocolErrors } from './errors';

export type JsonObject = Record<string, unknown>;

export type OperationHandler = (input: JsonObject) => unknown;

export interface AwsJsonService {
  /** `AWSGlue` or `AmazonAthena`: the part of X-Amz-Target before the dot. */
  targetPrefix: string;
  /** The code of an unexpected failure in this service (Glue: InternalServiceException, Athena: InternalServerException). */
  internalErrorType: string;
  operations: Record<string, OperationHandler>;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;
const CONTENT_TYPE = 'application/x-amz-json-1.1';

/** The current time as the JSON protocol sends timestamps: epoch seconds with milliseconds. */
export function nowEpochSeconds(): number {
  return Date.now() / 1000;
}

/**
 * Answers one AWS JSON request. Returns the operation name for logging.
 *
 * @example
 *   http.createServer((req, res) => void handleAwsJsonRequest(req, res, [glueService, athenaService], log));
 */
export async function handleAwsJsonRequest(
  req: IncomingMessage,
  res: ServerResponse,
  services: AwsJsonService[],
  logger: Logger,
): Promise<void> {
  const requestId = randomUUID();
  const target = String(req.headers['x-amz-target'] ?? '');
  const started = Date.now();
  let internalErrorType = 'InternalFailure';
  try {
    const [prefix, operation] = splitTarget(target);
    const service = services.find((s) => s.targetPrefix === prefix);
    if (!service) throw protocolErrors.unknownOperation(target || '(no X-Amz-Target header)');
    internalErrorType = service.internalErrorType;
    const handler = Object.hasOwn(service.operations, operation) ? service.operations[operation] : undefined;
    if (!handler) throw protocolErrors.unknownOperation(`${prefix}.${operation}`);
    const input = parseBody(await readBody(req));
    const output = await handler(input);
    send(res, 200, requestId, output ?? {});
    logger.debug({ target, requestId, ms: Date.now() - started }, 'request served');
  } catch (error) {
    if (error instanceof LakeApiError) {
      logger.info({ target, requestId, errorType: error.awsType, error: error.message }, 'request rejected');
      sendError(res, requestId, error.httpStatus, error.awsType, error.message, error.extra);
    } else {
      logger.error({ target, requestId, err: error }, 'request failed');
      sendError(res, requestId, 500, internalErrorType, `internal error: ${errorMessage(error)}`, {});
    }
  }
}

function splitTarget(target: string): [string, string] {
  const dot = target.indexOf('.');
  if (dot <= 0) return [target, ''];
  return [target.slice(0, dot), target.slice(dot + 1)];
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(protocolErrors.serialization(`request body larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(text: string): JsonObject {
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw protocolErrors.serialization(`request body is not valid JSON: ${errorMessage(error)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw protocolErrors.serialization('request body must be a JSON object');
  }
  return parsed as JsonObject;
}

function send(res: ServerResponse, status: number, requestId: string, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': requestId,
  });
  res.end(text);
}

function sendError(
  res: ServerResponse,
  requestId: string,
  status: number,
  type: string,
  message: string,
  extra: Record<string, unknown>,
): void {
  // Both spellings of the message: Glue's shapes use `message`, Athena's `Message`.
  const body = { __type: type, message, Message: message, ...extra };
  if (!res.headersSent) res.setHeader('x-amzn-errortype', type);
  send(res, status, requestId, body);
}

/**
 * Validates an operation's input with a zod schema; the failure names each bad member the way AWS's
 * validation messages do.
 */
export function parseInput<T>(schema: z.ZodType<T>, input: JsonObject, invalid: InputErrorFactory): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const details = result.error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : 'input'}: ${issue.message}`)
    .join('; ');
  throw invalid(`${result.error.issues.length} validation error(s) detected: ${details}`);
}

/** Paging: the NextToken is an opaque encoding of the next offset (tied to the listing it came from). */
export function encodeNextToken(scope: string, offset: number): string {
  return Buffer.from(JSON.stringify({ s: scope, o: offset })).toString('base64url');
}

export function decodeNextToken(
  token: string | undefined,
  scope: string,
  invalid: InputErrorFactory,
): number {
  if (!token) return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      s?: unknown;
      o?: unknown;
    };
    if (parsed.s === scope && typeof parsed.o === 'number' && Number.isInteger(parsed.o) && parsed.o >= 0)
      return parsed.o;
  } catch {
    // fall through to the error below
  }
  throw invalid('NextToken is invalid or belongs to another request');
}

/** One page of a list plus the token of the next one. */
export function pageOf<T>(
  items: T[],
  offset: number,
  max: number,
  scope: string,
): { page: T[]; nextToken?: string } {
  const page = items.slice(offset, offset + max);
  const next = offset + page.length;
  return { page, nextToken: next < items.length ? encodeNextToken(scope, next) : undefined };
}
