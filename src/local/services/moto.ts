/**
 * moto server (PyPI moto[server]): DynamoDB, DynamoDB Streams and S3 on one port. Started through moto_server.py,
 * which adds the retention AWS applies (stream records, shard iterators, S3 lifecycle expiration) and keeps S3
 * object bodies in files under the data dir, so its memory stays bounded at a steady rate.
 */
import { join } from 'node:path';
import { LOCAL_HOST } from '../../config';
import { venvPython } from '../installer';
import { PROJECT_ROOT } from '../paths';
import { httpOk } from '../probes';
import type { ServiceContext, StackService } from '../service';

/**
 * A table with this tag (value: milliseconds) gets stream records stamped that far off the wall clock, so a test
 * or benchmark can put its changes across an hour boundary without waiting for one (moto_server.py).
 */
/**
 * What one orders item costs moto in memory at most (its Python objects: an item of every attribute the sink
 * writes): `npm run soak` allows moto this much growth per item the table gained, since on AWS the items are
 * table storage, not a leak. test/local/moto-retention.test.ts measures it: 3.2 KB with moto 5.2.5 (2026-12-07).
 */
export const MOTO_KB_PER_ITEM = 4;

export const STREAM_CLOCK_OFFSET_TAG = 'local-stack:stream-clock-offset-ms';

export function createMotoService(ctx: ServiceContext): StackService {
  const { moto } = ctx.endpoints;
  return {
    name: 'moto',
    components: ['python'],
    readyTimeoutMs: 60_000,
    stopGraceMs: 5_000,
    logFile: join(ctx.paths.logDir, 'moto.log'),
    pidFile: join(ctx.paths.pidDir, 'moto.pid'),
    availability: () =>
      moto === undefined
        ? { available: false, reason: 'no S3 endpoint override (AWS mode)' }
        : moto.local
          ? { available: true }
          : { available: false, reason: `S3 endpoint ${moto.host}:${moto.port} is not local` },
    ports: () => (moto ? [{ port: moto.port, label: 'DynamoDB, Streams, S3 HTTP' }] : []),
    addresses: () =>
      moto ? [`DynamoDB, DynamoDB Streams, S3 (moto) http://${LOCAL_HOST}:${moto.port}`] : [],
    launch: () => ({
      command: venvPython(ctx.paths),
      args: [join(__dirname, 'moto_server.py'), '-H', LOCAL_HOST, '-p', String(moto?.port)],
      cwd: PROJECT_ROOT,
      env: {
        MOTO_STREAM_RETENTION_SECONDS: String(ctx.config.retention.localStreamSeconds),
        MOTO_LIFECYCLE_DAY_SECONDS: String(ctx.config.retention.localLifecycleDaySeconds),
        MOTO_STREAM_CLOCK_OFFSET_TAG: STREAM_CLOCK_OFFSET_TAG,
        MOTO_S3_OBJECT_DIR: join(ctx.paths.dataDir, 'moto', 's3-objects'),
        // One malloc arena per request thread would keep each thread's freed memory (see moto_server.py).
        MALLOC_ARENA_MAX: '2',
      },
    }),
    // moto's own dashboard API: answers 200 only when it is moto (not just any HTTP server) that listens.
    isReady: async () => moto !== undefined && httpOk(LOCAL_HOST, moto.port, '/moto-api/'),
  };
}
