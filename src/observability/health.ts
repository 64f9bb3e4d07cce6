/**
 * Liveness and readiness of a pipeline process. Every process (worker, generator, dynamo sink, CDC relay, S3
 * sink) serves three paths on one HTTP server, at METRICS_HOST:METRICS_PORT (127.0.0.1 by default; 0.0.0.0 in a
 * container so the kubelet and Prometheus reach it):
 *
 * - `GET /metrics`: Prometheus text (the worker's includes the Temporal SDK's own metrics, `temporal_*`).
 * - `GET /healthz`: alive. 200 `{"status":"alive"}` whenever the event loop runs; it checks nothing else, because a
 *   restart does not fix a broker or a table that is down (that is readiness). Use it for liveness probes.
 * - `GET /readyz`: 200 `{"status":"ready"}` only when every readiness check passes, otherwise
 *   503 `{"status":"not ready","reasons":{"<check>":"<why>"}}`. The checks:
 *   - `process`: started (its clients connected, its topics and tables ensured, its loops running); "stopping" from
 *     the first SIGTERM/SIGINT on, so no new traffic or scaling decision counts on a draining process.
 *   - `kafka-consumer:<group>` (dynamo sink, S3 sink): connected, joined its group and got its assignment (possibly
 *     empty when there are more members than partitions), not rebalancing, not crashed, and not stalled (a heartbeat
 *     or fetch within KAFKA_SESSION_TIMEOUT_MS).
 *   - `cdc-relay` (relay): a lease round (renew, shard sync, take) succeeded within three lease durations.
 *   - `temporal-worker` (worker): the worker is RUNNING and its connection answered a health check within 30 s.
 *   The generator's readiness is `process` alone (its producer reconnects on each send).
 *
 * @example
 *   const readiness = createReadiness();
 *   const done = readiness.add('process', () => (started ? undefined : 'starting'));
 *   await serveMetrics(registry, { host: config.metricsHost, port: config.metricsPort, readiness });
 */

/** A readiness check: undefined when ready, else why not (short, for an operator). */
export type ReadinessCheck = () => string | undefined;

export interface ReadinessState {
  ready: boolean;
  reasons: Record<string, string>;
}

export interface Readiness {
  /** Adds a named check; returns a function that removes it. A later check of the same name replaces it. */
  add(name: string, check: ReadinessCheck): () => void;
  state(): ReadinessState;
}

export function createReadiness(): Readiness {
  const checks = new Map<string, ReadinessCheck>();
  return {
    add(name, check) {
      checks.set(name, check);
      return () => {
        if (checks.get(name) === check) checks.delete(name);
      };
    },
    state() {
      const reasons: Record<string, string> = {};
      for (const [name, check] of checks) {
        let reason: string | undefined;
        try {
          reason = check();
        } catch (error) {
          reason = `check failed: ${(error as Error).message}`;
        }
        if (reason !== undefined) reasons[name] = reason;
      }
      return { ready: Object.keys(reasons).length === 0, reasons };
    },
  };
}
