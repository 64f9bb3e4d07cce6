/**
 * kafkajs reports a broker's error as a KafkaJSProtocolError with its `type` (e.g. `REBALANCE_IN_PROGRESS`),
 * but often wrapped: its retrier wraps in `cause`, the producer in `originalError`. Code that reacts to one
 * broker error looks through the wrapping here, in one place.
 */

/** The first error in the chain (the error itself, then its `cause` / `originalError`) whose type is in `types`. */
export function kafkaErrorOfType(error: unknown, types: ReadonlySet<string>): Error | undefined {
  for (let e = error as { type?: string; cause?: unknown; originalError?: unknown } | undefined; e;) {
    if (e.type && types.has(e.type)) return e as unknown as Error;
    e = (e.cause ?? e.originalError) as typeof e;
  }
  return undefined;
}
