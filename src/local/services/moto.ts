/**
 * moto server (PyPI moto[server]): DynamoDB, DynamoDB Streams and S3 on one port, in memory.
 */
import { join } from 'node:path';
import { LOCAL_HOST } from '../../config';
import { motoServerPath } from '../installer';
import { PROJECT_ROOT } from '../paths';
import { httpOk } from '../probes';
import type { ServiceContext, StackService } from '../service';

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
      command: motoServerPath(ctx.paths),
      args: ['-H', LOCAL_HOST, '-p', String(moto?.port)],
      cwd: PROJECT_ROOT,
    }),
    // moto's own dashboard API: answers 200 only when it is moto (not just any HTTP server) that listens.
    isReady: async () => moto !== undefined && httpOk(LOCAL_HOST, moto.port, '/moto-api/'),
  };
}
