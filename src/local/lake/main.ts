/**
 * Entry point of the local Glue + Athena endpoint, started by the stack supervisor as
 * `node_modules/.bin/tsx src/local/lake/main.ts`. Listens on the port of AWS_ENDPOINT_URL_GLUE
 * (default 127.0.0.1:5050) and stops cleanly on SIGTERM/SIGINT (state flushed, running work ended).
 */
import { LOCAL_PORTS, loadConfig } from '../../config';
import { createLogger } from '../../observability/logger';
import { startLakeServer } from './server';

/** The port of the configured Glue endpoint URL; Athena is expected on the same one. */
export function lakePortFromConfig(glueEndpoint: string | undefined): number {
  if (!glueEndpoint) return LOCAL_PORTS.lake;
  const url = new URL(glueEndpoint);
  return url.port ? Number(url.port) : LOCAL_PORTS.lake;
}

async function run(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('lake-main', config);
  const port = lakePortFromConfig(config.aws.endpoints.glue);
  if (config.aws.endpoints.athena && lakePortFromConfig(config.aws.endpoints.athena) !== port) {
    logger.warn({ glue: config.aws.endpoints.glue, athena: config.aws.endpoints.athena }, 'Glue and Athena endpoints differ; this server answers both on the Glue port');
  }
  const server = await startLakeServer({ config, port });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping lake endpoint');
    server
      .close()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ error: (error as Error).message }, 'error while stopping');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (require.main === module) {
  run().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
