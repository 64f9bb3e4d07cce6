/**
 * OAUTHBEARER tokens for kafkajs: from an OAuth client-credentials grant (Confluent Cloud, any OIDC provider) or
 * signed by AWS's MSK IAM signer. kafkajs asks for a token on every new connection and again before a session
 * expires (when the broker sets a session lifetime), so both come through one cache that hands out the same token
 * until most of its lifetime has passed.
 */
import { NODE_REGION_CONFIG_FILE_OPTIONS, NODE_REGION_CONFIG_OPTIONS } from '@aws-sdk/core/client';
import { loadConfig } from '@smithy/core/config';
import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import { RetriableError } from '../support/errors';

export interface ExpiringToken {
  value: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** A token could not be obtained: the identity provider refused, or its answer is not a token. */
export class KafkaTokenError extends RetriableError {
  constructor(
    message: string,
    readonly retriable: boolean,
    cause?: unknown,
  ) {
    super(message, cause);
    this.name = 'KafkaTokenError';
  }
}

/** Share of a token's lifetime after which the next request gets a new one (tokens live minutes to hours). */
const REFRESH_AT_SHARE = 0.8;

/**
 * A kafkajs `oauthBearerProvider` that fetches a token once and again after 80 % of its lifetime; callers that
 * ask while a fetch is under way share it.
 *
 * @example
 *   const provider = cachedTokenProvider(clientCredentialsToken(options));
 *   new Kafka({ brokers, sasl: { mechanism: 'oauthbearer', oauthBearerProvider: provider } });
 */
export function cachedTokenProvider(
  fetchToken: () => Promise<ExpiringToken>,
  now: () => number = Date.now,
): () => Promise<{ value: string }> {
  let current: { token: ExpiringToken; refreshAt: number } | undefined;
  let pending: Promise<ExpiringToken> | undefined;
  return async () => {
    if (current && now() < current.refreshAt) return { value: current.token.value };
    pending ??= (async () => {
      const fetchedAt = now();
      try {
        const token = await fetchToken();
        current = { token, refreshAt: fetchedAt + (token.expiresAt - fetchedAt) * REFRESH_AT_SHARE };
        return token;
      } finally {
        pending = undefined;
      }
    })();
    return { value: (await pending).value };
  };
}

export interface ClientCredentials {
  tokenEndpointUrl: string;
  clientId: string;
  clientSecret: string;
  /** Empty: no scope parameter. */
  scope: string;
}

/** The `exp` claim of a JWT, for a token endpoint that leaves out `expires_in`. */
function jwtExpiry(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      exp?: unknown;
    };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The OAuth 2.0 client-credentials grant (RFC 6749 §4.4) with the client authenticating by HTTP Basic, as Kafka's
 * own Java client does. The secret goes only into the Authorization header, never into an error.
 */
export function clientCredentialsToken(options: ClientCredentials): () => Promise<ExpiringToken> {
  const { tokenEndpointUrl, clientId, clientSecret, scope } = options;
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString(
    'base64',
  );
  return async () => {
    const body = new URLSearchParams({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) });
    let response: Response;
    try {
      response = await fetch(tokenEndpointUrl, {
        method: 'POST',
        headers: {
          authorization: `Basic ${basic}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body,
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new KafkaTokenError(`OAuth token endpoint ${tokenEndpointUrl} unreachable`, true, error);
    }
    const text = await response.text();
    if (!response.ok) {
      let reason = text.slice(0, 300);
      try {
        const { error, error_description } = JSON.parse(text) as Record<string, unknown>;
        if (typeof error === 'string')
          reason = error_description ? `${error}: ${String(error_description)}` : error;
      } catch {
        // Not JSON: the start of the body is the best description there is.
      }
      throw new KafkaTokenError(
        `OAuth token endpoint ${tokenEndpointUrl} refused client "${clientId}" (HTTP ${response.status}): ${reason}`,
        response.status >= 500 || response.status === 429,
      );
    }
    let answer: { access_token?: unknown; expires_in?: unknown };
    try {
      answer = JSON.parse(text) as typeof answer;
    } catch (error) {
      throw new KafkaTokenError(
        `OAuth token endpoint ${tokenEndpointUrl} answered with no JSON`,
        false,
        error,
      );
    }
    if (typeof answer.access_token !== 'string' || !answer.access_token) {
      throw new KafkaTokenError(
        `OAuth token endpoint ${tokenEndpointUrl} answered with no access_token`,
        false,
      );
    }
    const expiresAt =
      typeof answer.expires_in === 'number'
        ? Date.now() + answer.expires_in * 1000
        : jwtExpiry(answer.access_token);
    if (expiresAt === undefined) {
      throw new KafkaTokenError(
        `OAuth token endpoint ${tokenEndpointUrl} gave neither expires_in nor a JWT with exp: cannot tell when to refresh`,
        false,
      );
    }
    return { value: answer.access_token, expiresAt };
  };
}

/** The region as any AWS SDK client resolves it: AWS_REGION, then the profile's `region` (incl. SSO profiles). */
async function defaultAwsRegion(): Promise<string> {
  try {
    return await loadConfig(NODE_REGION_CONFIG_OPTIONS, NODE_REGION_CONFIG_FILE_OPTIONS)();
  } catch (error) {
    throw new KafkaTokenError(
      'aws-msk-iam: no region (set KAFKA_SASL_AWS_REGION or AWS_REGION, or a region in the AWS profile)',
      false,
      error,
    );
  }
}

/**
 * An MSK IAM token from AWS's signer, with credentials from the SDK's default chain (env, profile incl. SSO, web
 * identity, container and instance roles). The region is `region`, else the SDK's region chain.
 */
export function mskIamToken(region: string): () => Promise<ExpiringToken> {
  return async () => {
    const resolvedRegion = region || (await defaultAwsRegion());
    try {
      const { token, expiryTime } = await generateAuthToken({ region: resolvedRegion });
      return { value: token, expiresAt: expiryTime };
    } catch (error) {
      throw new KafkaTokenError(
        `aws-msk-iam: signing a token for ${resolvedRegion} failed: ${(error as Error).message}`,
        true,
        error,
      );
    }
  };
}
