/**
 * The Temporal time-skipping test server binary for `@temporalio/testing`, which cannot download one offline.
 *
 * @example
 *   const env = await TestWorkflowEnvironment.createTimeSkipping({
 *     server: { executable: { type: 'existing-path', path: await ensureTemporalTestServer(config) } },
 *   });
 */
import { existsSync } from 'node:fs';
import type { Config } from '../config';
import { StackError } from './errors';
import { installComponents, temporalTestServerBinary } from './installer';
import { stackPaths } from './paths';

/** The path of the installed binary; throws a StackError saying how to install it when it is missing. */
export function temporalTestServerPath(config: Pick<Config, 'stackDir' | 'dataDir'>): string {
  const path = temporalTestServerBinary(stackPaths(config));
  if (!existsSync(path)) {
    throw new StackError(
      `the Temporal test server is not installed (${path}); run \`npm run stack -- install\``,
    );
  }
  return path;
}

/** Installs the Python tools if needed (fast when present), then returns the binary's path. */
export async function ensureTemporalTestServer(
  config: Pick<Config, 'stackDir' | 'dataDir'>,
): Promise<string> {
  await installComponents(stackPaths(config), ['python']);
  return temporalTestServerPath(config);
}
