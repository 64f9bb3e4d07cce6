/** Removes the run's workflow bundle (global-setup.ts), unless the caller supplied one. */
import { rmSync } from 'node:fs';

export default function globalTeardown(): void {
  const path = process.env.TEMPORAL_WORKFLOW_BUNDLE;
  if (path && path.includes(`workflow-bundle-${process.pid}.js`)) rmSync(path, { force: true });
}
