/**
 * Watches the local stack while `npm test` runs: a service that stops answering (a crashed broker, an OOM-killed
 * moto) would otherwise turn every remaining test file into minutes of timeouts. Each check opens a TCP
 * connection to every endpoint; `failuresAllowed` consecutive failed checks of one endpoint count as lost, so a
 * single slow accept under load is not mistaken for a dead service.
 */
import { canConnect } from './os-processes';

export interface WatchedEndpoint {
  name: string;
  host: string;
  port: number;
}

export interface StackWatchdogOptions {
  intervalMs?: number;
  failuresAllowed?: number;
  /** Called once, with the first endpoint that was lost; watching stops then. */
  onLost: (lost: WatchedEndpoint, detail: string) => void;
  /** Called after every completed check (for tests and progress). */
  onCheck?: () => void;
}

export function watchStack(
  endpoints: WatchedEndpoint[],
  { intervalMs = 5000, failuresAllowed = 3, onLost, onCheck }: StackWatchdogOptions,
): { stop: () => void } {
  const failures = new Map<string, number>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const check = async () => {
    const answers = await Promise.all(
      endpoints.map(async (endpoint) => ({
        endpoint,
        ok: await canConnect(endpoint.host, endpoint.port, 2000),
      })),
    );
    if (stopped) return;
    for (const { endpoint, ok } of answers) {
      const failed = ok ? 0 : (failures.get(endpoint.name) ?? 0) + 1;
      failures.set(endpoint.name, failed);
      if (failed >= failuresAllowed) {
        stopped = true;
        onLost(
          endpoint,
          `${endpoint.name} at ${endpoint.host}:${endpoint.port} refused ${failed} checks in a row, ${intervalMs / 1000} s apart`,
        );
        return;
      }
    }
    onCheck?.();
    timer = setTimeout(() => void check(), intervalMs);
    timer.unref();
  };
  timer = setTimeout(() => void check(), intervalMs);
  timer.unref();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
