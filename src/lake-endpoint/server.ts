/**
 * The local Glue + Athena endpoint: one HTTP server for both services (told apart by the X-Amz-Target prefix),
 * its state under `dataDir`, S3 read and written through the S3 client it is given or builds.
 *
 * @example
 *   const lake = await startLakeServer({ port: 0, dataDir: '/tmp/lake', s3: s3ClientConfigFromEnv(process.env, { requestTimeoutMs: 30_000 }) });
 *   const glue = new GlueClient({ endpoint: lake.url, region: 'us-east-1' });
 *   ...
 *   await lake.close();
 */
import { mkdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { createAthenaService } from './athena/athena-service';
import { DEFAULT_OBJECT_CACHE_BYTES } from './athena/object-cache';
import { DEFAULT_QUERY_MEMORY_BYTES } from './athena/query-engine';
import { createGlueCatalog } from './glue/catalog';
import { createCrawlerService } from './glue/crawler-service';
import { createGlueCatalogOperations } from './glue/glue-api';
import { loadLakeState } from './lake-state';
import { createRootLogger, type LogLevel } from './logger';
import { type AwsJsonService, handleAwsJsonRequest, type OperationHandler } from './protocol';

export const DEFAULT_HOST = '127.0.0.1';

export interface LakeServerOptions {
  /** 0 picks a free port. */
  port: number;
  /** The address to listen on; default 127.0.0.1. */
  host?: string;
  /** Where the catalog, crawler and query state, query results and the S3 object cache are kept. */
  dataDir: string;
  /** A ready client (left open by `close()`: its owner destroys it), or the configuration of one to build. */
  s3: S3Client | S3ClientConfig;
  /** Default `info`. */
  logLevel?: LogLevel;
  /** Queries run at the same time (the rest wait QUEUED); default 2. */
  queryConcurrency?: number;
  /** Disk the S3 object cache may use (a running query's files may exceed it until it ends); default 2 GiB. */
  objectCacheBytes?: number;
  /** Memory one query's DuckDB may use before it spills to disk; default 1 GiB. */
  queryMemoryBytes?: number;
}

export interface LakeServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startLakeServer(options: LakeServerOptions): Promise<LakeServer> {
  const host = options.host ?? DEFAULT_HOST;
  const root = createRootLogger(options.logLevel ?? 'info');
  const logger = root.child({ component: 'lake-endpoint' });
  const lakeDir = resolve(options.dataDir);
  await mkdir(lakeDir, { recursive: true });
  const { state, file, recovered } = await loadLakeState(lakeDir);
  // What the queries of a process that was killed spilled to disk: no query of this one can read it.
  await rm(join(lakeDir, 'spill'), { recursive: true, force: true });
  if (recovered > 0)
    logger.warn({ recovered }, 'crawls/queries interrupted by the previous stop were marked FAILED');

  const s3 = options.s3 instanceof S3Client ? options.s3 : new S3Client(options.s3);
  const ownsS3 = s3 !== options.s3;
  const catalog = createGlueCatalog({ state, markDirty: file.markDirty });
  const crawlers = createCrawlerService({
    state,
    catalog,
    s3,
    file,
    logger: root.child({ component: 'lake-crawler' }),
  });
  const athena = createAthenaService({
    state,
    catalog,
    s3,
    file,
    lakeDir,
    logger: root.child({ component: 'lake-athena' }),
    concurrency: options.queryConcurrency ?? 2,
    objectCacheBytes: options.objectCacheBytes ?? DEFAULT_OBJECT_CACHE_BYTES,
    queryMemoryBytes: options.queryMemoryBytes ?? DEFAULT_QUERY_MEMORY_BYTES,
  });

  // Every answer waits until the state it changed is on disk ("answered = durable").
  const durable = (operations: Record<string, OperationHandler>): Record<string, OperationHandler> =>
    Object.fromEntries(
      Object.entries(operations).map(([name, handler]) => [
        name,
        async (input) => {
          const output = await handler(input);
          await file.flush();
          return output;
        },
      ]),
    );

  const services: AwsJsonService[] = [
    {
      targetPrefix: 'AWSGlue',
      internalErrorType: 'InternalServiceException',
      operations: durable({ ...createGlueCatalogOperations(catalog), ...crawlers.operations }),
    },
    {
      targetPrefix: 'AmazonAthena',
      internalErrorType: 'InternalServerException',
      operations: durable(athena.operations),
    },
  ];

  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/health' || req.url === '/health/')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', services: ['glue', 'athena'] }));
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'POST AWS JSON 1.1 requests to /, or GET /health' }));
      return;
    }
    void handleAwsJsonRequest(req, res, services, logger);
  });
  server.on('clientError', (error, socket) => {
    logger.debug({ err: error }, 'malformed HTTP request');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ host, port, lakeDir }, 'lake endpoint listening (Glue + Athena)');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await new Promise<void>((resolveClose) => {
        // In-flight requests finish; keep-alive sockets left open by clients are cut after a grace period.
        const force = setTimeout(() => server.closeAllConnections(), 3000);
        server.close(() => {
          clearTimeout(force);
          resolveClose();
        });
        server.closeIdleConnections();
      });
      await crawlers.shutdown();
      await athena.shutdown();
      await file.flush();
      if (ownsS3) s3.destroy();
      logger.info({ port }, 'lake endpoint stopped');
    })());

  return { port, url: `http://${host}:${port}`, close };
}
