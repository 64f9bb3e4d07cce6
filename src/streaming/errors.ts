/**
 * Base of the streaming processes' named errors: `retriable` lets a consumer loop decide between retrying and
 * giving up without reading message text; `cause` keeps the SDK or kafkajs error underneath.
 */
import { RetriableError } from '../support/errors';

export abstract class StreamingError extends RetriableError {}
