/**
 * The control-plane workflows: the worker's `workflowsPath`. Each export's name is its workflow type
 * (`temporal workflow start --type crawl`).
 */
export { provision } from './provision-workflow';
export { crawl } from './crawl-workflow';
export { report } from './report-workflow';
export { query } from './query-workflow';
export { backfill } from './backfill-workflow';
export { compact, compactHour } from './compact-workflow';
export { reconcile } from './reconcile-workflow';
