import { RetriableError } from '../support/errors';

/** A setting that cannot work: retrying with the same environment fails the same way. */
export class ConfigError extends RetriableError {
  override readonly name = 'ConfigError';
  readonly retriable = false;
}
