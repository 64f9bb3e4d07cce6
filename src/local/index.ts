/**
 * The local stack's public API: start, stop and inspect the stack from code (the main job, tests, benchmarks).
 * The CLI (`npm run stack -- up|down|status|install`) is src/cli/stack.ts.
 */
export {
  startStack,
  ensureStackUp,
  stopStack,
  stackStatus,
  installStack,
  STACK_SERVICE_NAMES,
  type ServiceState,
  type ServiceStatus,
  type StackEvent,
  type StackHandle,
  type StackOptions,
} from './supervisor';
export { createNodeProcessService, type NodeProcessOptions } from './services';
export type { StackService, ServiceContext, LaunchSpec, ServicePort } from './service';
export { ensureTemporalTestServer, temporalTestServerPath } from './temporal-test-server';
export { stackEndpoints, type StackEndpoints, type Endpoint } from './ports';
export { stackPaths, PROJECT_ROOT, type StackPaths } from './paths';
export { rotateLogs, startLogRotation, type RotatedLog } from './log-rotation';
export * from './errors';
export {
  startPipelineProcesses,
  superviseProcesses,
  type PipelineProcessGroup,
  type RestartPolicy,
} from './pipeline-supervisor';
