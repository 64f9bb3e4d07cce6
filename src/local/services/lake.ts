/**
 * The project's local Glue + Athena endpoint (src/lake-endpoint, its own product): a node process on the port of
 * `config.aws.endpoints.glue`, ready when `GET /health` answers 200; not started in AWS mode (no Glue override).
 *
 * The endpoint knows nothing of the pipeline's config: this passes it the pipeline's values on its command line
 * (port, `<dataDir>/lake` for its state, log level, S3 request timeout) and the S3 endpoint in the AWS SDK's
 * variables, explicitly, so what it is given does not depend on which of the stack's variables a child inherits.
 */
import { join } from 'node:path';
import { LAKE_PROCESS } from '../pipeline-processes';
import type { ServiceContext, StackService } from '../service';
import { createNodeProcessService } from './node-process';

export function createLakeService(ctx: ServiceContext): StackService {
  const { lake } = ctx.endpoints;
  const { config } = ctx;
  const args = lake
    ? [
        '--port',
        String(lake.port),
        '--data-dir',
        join(ctx.paths.dataDir, 'lake'),
        '--log-level',
        config.logLevel,
        '--s3-timeout-ms',
        String(config.aws.requestTimeoutMs),
      ]
    : [];
  const service = createNodeProcessService(
    ctx,
    { ...LAKE_PROCESS, args },
    {
      endpoint: lake,
      healthPath: '/health',
      addresses: lake ? [`Glue + Athena (lake) http://${lake.host}:${lake.port}`] : [],
      stopGraceMs: 10_000,
      env: { AWS_REGION: config.aws.region, AWS_ENDPOINT_URL_S3: config.aws.endpoints.s3 },
    },
  );
  if (lake) return service;
  return {
    ...service,
    availability: () => ({ available: false, reason: 'no Glue endpoint override (AWS mode)' }),
  };
}
