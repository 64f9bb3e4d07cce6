/**
 * Entry point of the local Glue + Athena endpoint: `tsx src/lake-endpoint/main.ts [options]`. Stops cleanly on
 * SIGTERM/SIGINT (state flushed, running work ended).
 *
 *   --host <ip>                  address to listen on (default 127.0.0.1)
 *   --port <n>                   port to listen on (default 5050; 0 picks a free one)
 *   --data-dir <path>            where its state lives (default .data/lake, from the working directory)
 *   --log-level <level>          pino level (default $LOG_LEVEL, else info)
 *   --query-concurrency <n>      queries run at the same time (default 2)
 *   --object-cache-mb <n>        disk the S3 object cache may use, least recently used files evicted (default 2048)
 *   --query-memory-mb <n>        memory one query may use before it spills to disk (default 1024)
 *
 * S3 comes from the AWS SDK's standard variables (see s3-client-config.ts). It listens on 127.0.0.1 unless
 * `--host` says otherwise: docker-compose.yml passes `--host 0.0.0.0`, because inside a container the loopback
 * is the container's own and the other services reach it by its service name (the port is still published on
 * the host's 127.0.0.1 only).
 */
import { isIP } from 'node:net';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { createRootLogger, LOG_LEVELS, type LogLevel } from './logger';
import { s3ClientConfigFromEnv } from './s3-client-config';
import { integerBetween } from '../support/cli-options';
import { DEFAULT_HOST, startLakeServer } from './server';
import { DEFAULT_OBJECT_CACHE_BYTES } from './athena/object-cache';
import { DEFAULT_QUERY_MEMORY_BYTES } from './athena/query-engine';

/** The port the pipeline's local stack expects it on (test/ops checks it against the stack's LOCAL_PORTS.lake). */
export const DEFAULT_PORT = 5050;
const DEFAULT_DATA_DIR = '.data/lake';
const DEFAULT_S3_TIMEOUT_MS = 30_000;

/** What the command line says; only `host` has a default here (the others' defaults may come from the environment). */
interface LakeArgs {
  host: string;
  port?: number;
  dataDir?: string;
  logLevel?: LogLevel;
  queryConcurrency?: number;
  s3TimeoutMs?: number;
  objectCacheMb?: number;
  queryMemoryMb?: number;
}

export function parseLakeArgs(argv: string[]): LakeArgs {
  const program = new Command('lake')
    .description('the local Glue + Athena endpoint')
    .option(
      '--host <ip>',
      'address to listen on',
      (value: string) => {
        if (isIP(value) === 0) throw new InvalidArgumentError(`expected an IP address, got "${value}"`);
        return value;
      },
      DEFAULT_HOST,
    )
    .option(
      '--port <n>',
      `port to listen on (default ${DEFAULT_PORT}; 0: a free one)`,
      integerBetween(0, 65535),
    )
    .option('--data-dir <path>', `where the state is kept (default ${DEFAULT_DATA_DIR})`)
    .option('--log-level <level>', 'pino log level (default $LOG_LEVEL, else info)', (value: string) => {
      if (!(LOG_LEVELS as string[]).includes(value))
        throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}, got "${value}"`);
      return value;
    })
    .option('--query-concurrency <n>', 'queries run at the same time (default 2)', integerBetween(1, 256))
    .option(
      '--s3-timeout-ms <n>',
      `an S3 request not answered within this long fails and is retried (default ${DEFAULT_S3_TIMEOUT_MS})`,
      integerBetween(1000, 3_600_000),
    )
    .option(
      '--object-cache-mb <n>',
      `disk the S3 object cache may use; least recently used files go first (default ${DEFAULT_OBJECT_CACHE_BYTES / 1024 ** 2})`,
      integerBetween(1, 1024 * 1024),
    )
    .option(
      '--query-memory-mb <n>',
      `memory one query's engine may use; past it, sorts, joins and aggregations spill to the data dir, and what cannot spill fails as Athena's "Query exhausted resources at this scale factor" (default ${DEFAULT_QUERY_MEMORY_BYTES / 1024 ** 2})`,
      integerBetween(16, 1024 * 1024),
    )
    .exitOverride()
    .parse(argv, { from: 'user' });
  return program.opts<LakeArgs>();
}

function logLevelFromEnv(env: NodeJS.ProcessEnv): LogLevel | undefined {
  const level = env.LOG_LEVEL;
  if (!level) return undefined;
  if (!(LOG_LEVELS as string[]).includes(level))
    throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  return level as LogLevel;
}

async function run(): Promise<void> {
  const args = parseLakeArgs(process.argv.slice(2));
  const logLevel = args.logLevel ?? logLevelFromEnv(process.env) ?? 'info';
  const logger = createRootLogger(logLevel).child({ component: 'lake-main' });
  const server = await startLakeServer({
    host: args.host,
    port: args.port ?? DEFAULT_PORT,
    dataDir: args.dataDir ?? DEFAULT_DATA_DIR,
    s3: s3ClientConfigFromEnv(process.env, {
      requestTimeoutMs: args.s3TimeoutMs ?? DEFAULT_S3_TIMEOUT_MS,
    }),
    logLevel,
    queryConcurrency: args.queryConcurrency,
    objectCacheBytes: args.objectCacheMb === undefined ? undefined : args.objectCacheMb * 1024 ** 2,
    queryMemoryBytes: args.queryMemoryMb === undefined ? undefined : args.queryMemoryMb * 1024 ** 2,
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping lake endpoint');
    server
      .close()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (require.main === module) {
  run().catch((error: unknown) => {
    // `--help`, or a bad command line: commander has printed it.
    if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
    console.error(error);
    process.exit(1);
  });
}
