/**
 * The project's local Glue + Athena endpoint (src/lake-endpoint, its own product): a node process on the port of
 * `config.aws.endpoints.glue`, ready when `GET /health` answers 200. Skipped until its entry point exists.
 */
import { LAKE_PROCESS } from '../pipeline-processes';
import type { ServiceContext, StackService } from '../service';
import { createNodeProcessService } from './node-process';

export function createLakeService(ctx: ServiceContext): StackService {
  const { lake } = ctx.endpoints;
  const service = createNodeProcessService(ctx, LAKE_PROCESS, {
    endpoint: lake,
    healthPath: '/health',
    addresses: lake ? [`Glue + Athena (lake) http://${lake.host}:${lake.port}`] : [],
    stopGraceMs: 10_000,
  });
  if (lake) return service;
  return {
    ...service,
    availability: () => ({ available: false, reason: 'no Glue endpoint override (AWS mode)' }),
  };
}
