/**
 * Base of the streaming processes' named errors: `retriable` lets a consumer loop decide between retrying and
 * giving up without reading message text; `cause` keeps the SDK or kafkajs error underneath.
 */
export abstract class StreamingError extends Error {
  abstract readonly retriable: boolean;
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}
