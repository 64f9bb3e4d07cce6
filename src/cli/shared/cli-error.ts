import { RetriableError } from '../../support/errors';

/** The CLI layer's named error: what to tell the user, and the exit code. */
export class CliError extends RetriableError {
  override readonly name: string = 'CliError';
  readonly retriable: boolean = false;
  constructor(
    message: string,
    /** Process exit code: 1 failure, 2 bad usage/arguments, 3 environment (no worker, no server). */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
