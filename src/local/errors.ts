/**
 * Named errors of the local stack. Each message says what went wrong and what to do about it, because the
 * person reading it is usually running `npm start` or `npm test` on a fresh machine.
 */
import { RetriableError } from '../support/errors';

export class StackError extends RetriableError {
  override readonly name: string = 'StackError';
  /** The person running the stack has to act (install a tool, free a port); trying again alone does not help. */
  readonly retriable: boolean = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause);
  }
}

/** A tool the installer needs (Java, Maven, Python) is missing or too old. */
export class PrerequisiteMissingError extends StackError {
  override readonly name = 'PrerequisiteMissingError';
  constructor(
    readonly tool: string,
    detail: string,
    readonly howToGet: string,
  ) {
    super(`${tool} ${detail}. ${howToGet}`);
  }
}

/** Installing a component (pip, maven, go) failed; the output tail is in the message. */
export class InstallError extends StackError {
  override readonly name = 'InstallError';
}

/** The installation directory stayed locked by another live process for too long. */
export class StackLockTimeoutError extends StackError {
  override readonly name = 'StackLockTimeoutError';
}

export interface PortOwner {
  pid: number;
  command: string;
}

/** A port a service needs is bound by some other process, named when /proc or `ss` can tell. */
export class PortInUseError extends StackError {
  override readonly name = 'PortInUseError';
  constructor(
    readonly service: string,
    readonly port: number,
    readonly label: string,
    readonly owner: PortOwner | undefined,
  ) {
    const by = owner
      ? `by pid ${owner.pid} (${owner.command})`
      : 'by another process (run `ss -ltnp` to see which)';
    super(
      `${service}: port ${port} (${label}) is already in use ${by}. Stop that process or configure another port.`,
    );
  }
}

/** A service process exited while it was starting; the message carries the tail of its log. */
export class ServiceDiedError extends StackError {
  override readonly name = 'ServiceDiedError';
  constructor(
    readonly service: string,
    readonly exitCode: number | null,
    readonly logFile: string,
    readonly logTail: string,
  ) {
    super(
      `${service} exited (code ${exitCode ?? 'unknown'}) before it was ready. Last lines of ${logFile}:\n${logTail}`,
    );
  }
}

/** A service process stayed alive but did not become ready in time (it has been stopped). */
export class ServiceStartTimeoutError extends StackError {
  override readonly name = 'ServiceStartTimeoutError';
  constructor(
    readonly service: string,
    readonly timeoutMs: number,
    readonly logFile: string,
    readonly logTail: string,
  ) {
    super(
      `${service} was not ready within ${Math.round(timeoutMs / 1000)} s. Last lines of ${logFile}:\n${logTail}`,
    );
  }
}

/** Several services failed to start; each failure is kept. */
export class StackStartError extends StackError {
  override readonly name = 'StackStartError';
  constructor(readonly failures: { service: string; error: Error }[]) {
    // Most messages already start with the service name; do not say it twice.
    super(
      failures
        .map((f) =>
          f.error.message.startsWith(`${f.service}`) ? f.error.message : `${f.service}: ${f.error.message}`,
        )
        .join('\n\n'),
    );
  }
}
