/**
 * Entry point of the local Glue + Athena endpoint, started by the stack supervisor as
 * `node_modules/.bin/tsx src/lake-endpoint/main.ts`. Listens on the port of AWS_ENDPOINT_URL_GLUE
 * (default 127.0.0.1:5050) and stops cleanly on SIGTERM/SIGINT (state flushed, running work ended).
 *
 * It listens on 127.0.0.1 unless `--host` says otherwise: docker-compose.yml passes `--host 0.0.0.0`, because
 * inside a container the loopback is the container's own and the other services reach it by its service name
 * (the port is still published on the host's 127.0.0.1 only).
 */
import { isIP } from 'node:net';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { LOCAL_HOST, LOCAL_PORTS, loadConfig } from '../config';
import { createLogger } from '../observability/logger';
import { startLakeServer } from './server';

/** The port of the configured Glue endpoint URL; Athena is expected on the same one. */
export function lakePortFromConfig(glueEndpoint: string | undefined): number {
  if (!glueEndpoint) return LOCAL_PORTS.lake;
  const url = new URL(glueEndpoint);
  return url.port ? Number(url.port) : LOCAL_PORTS.lake;
}

/** The command line: `--host <ip>`, the address to listen on. */
export function parseLakeArgs(argv: string[]): { host: string } {
  const program = new Command('lake')
    .description('the local Glue + Athena endpoint')
    .option(
      '--host <ip>',
      'address to listen on',
      (value: string) => {
        if (isIP(value) === 0) throw new InvalidArgumentError(`expected an IP address, got "${value}"`);
        return value;
      },
      LOCAL_HOST,
    )
    .exitOverride()
    .parse(argv, { from: 'user' });
  return program.opts<{ host: string }>();
}

async function run(): Promise<void> {
  const { host } = parseLakeArgs(process.argv.slice(2));
  const config = loadConfig();
  const logger = createLogger('lake-main', config);
  const port = lakePortFromConfig(config.aws.endpoints.glue);
  if (config.aws.endpoints.athena && lakePortFromConfig(config.aws.endpoints.athena) !== port) {
    logger.warn(
      { glue: config.aws.endpoints.glue, athena: config.aws.endpoints.athena },
      'Glue and Athena endpoints differ; this server answers both on the Glue port',
    );
  }
  const server = await startLakeServer({ config, port, host });
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
    // A bad command line: commander has printed why.
    if (error instanceof CommanderError) process.exit(2);
    console.error(error);
    process.exit(1);
  });
}
