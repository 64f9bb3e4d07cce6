/**
 * The root of the project's named errors. Each layer has its own base extending it (StreamingError,
 * LakeFormatError, ...), so code can tell a layer's failures apart; all of them carry `retriable`, which lets a
 * loop or an activity decide between retrying and giving up without reading message text, and `cause`, which
 * keeps the SDK or kafkajs error underneath.
 */
export abstract class RetriableError extends Error {
  abstract readonly retriable: boolean;
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}
