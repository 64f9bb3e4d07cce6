/** Small readiness probes shared by services. Each resolves to a boolean and never throws. */
import { execFile } from 'node:child_process';
import { request } from 'node:http';

/** True when `GET http://host:port<path>` answers with a status in `okStatuses` within `timeoutMs`. */
export function httpOk(
  host: string,
  port: number,
  path: string,
  timeoutMs = 2000,
  okStatuses = [200],
): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(okStatuses.includes(res.statusCode ?? 0));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

/** Runs a command and returns its stdout, or undefined when it fails or times out. */
export function commandOutput(
  command: string,
  args: string[],
  timeoutMs = 5000,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs }, (error, stdout) => resolve(error ? undefined : stdout));
  });
}
