/**
 * Once per `services` run: the control-plane workflow bundle is built here and every worker of the run (in-process
 * or a child process, which inherits the environment) loads it through TEMPORAL_WORKFLOW_BUNDLE instead of
 * running webpack again (3-6 s each on this 2-core machine).
 */
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { stackPaths } from '../../src/local/paths';
import { writeControlPlaneWorkflowBundle } from '../../src/workers/control-plane-worker';

export default async function globalSetup(): Promise<void> {
  if (process.env.TEMPORAL_WORKFLOW_BUNDLE) return;
  const path = join(stackPaths(loadConfig()).dataDir, 'test-results', `workflow-bundle-${process.pid}.js`);
  await writeControlPlaneWorkflowBundle(path);
  process.env.TEMPORAL_WORKFLOW_BUNDLE = path;
}
