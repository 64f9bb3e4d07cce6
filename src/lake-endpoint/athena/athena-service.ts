/**
 * Athena's API over the JSON protocol, assembled from its parts: query executions (query-execution-operations)
 * run by the query runner on the DuckDB engine, their results (query-results-operation), workgroups with their
 * result location (workgroup-operations), named queries (named-query-operations) and the catalog views Athena
 * offers over the Glue catalog (catalog-view-operations).
 */
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { GlueCatalog } from '../glue/catalog';
import type { LakeState } from '../lake-state';
import type { Logger } from '../logger';
import type { OperationHandler } from '../protocol';
import type { StateFile } from '../state-file';
import { catalogViewOperations } from './catalog-view-operations';
import { namedQueryOperations } from './named-query-operations';
import { createObjectCache } from './object-cache';
import { createQueryEngine } from './query-engine';
import { queryExecutionOperations } from './query-execution-operations';
import { queryResultsOperation } from './query-results-operation';
import { createQueryRunner } from './query-runner';
import { workGroupOperations } from './workgroup-operations';

export interface AthenaServiceDeps {
  state: LakeState;
  catalog: GlueCatalog;
  s3: S3Client;
  file: StateFile;
  lakeDir: string;
  logger: Logger;
  concurrency: number;
  /** Cap of the S3 object cache (least recently used files go first). */
  objectCacheBytes: number;
  /** DuckDB's memory for one query (the rest spills to `<lakeDir>/spill`). */
  queryMemoryBytes: number;
}

/**
 * @example
 *   const athena = createAthenaService({ state, catalog, s3, file, lakeDir, logger, concurrency: 2, objectCacheBytes: 2 ** 31, queryMemoryBytes: 2 ** 30 });
 *   await athena.operations.StartQueryExecution({ QueryString: 'SELECT 1', WorkGroup: 'primary', ResultConfiguration: {...} });
 */
export function createAthenaService(deps: AthenaServiceDeps) {
  const { state, catalog, file } = deps;
  const cache = createObjectCache({
    s3: deps.s3,
    dir: join(deps.lakeDir, 'cache'),
    maxBytes: deps.objectCacheBytes,
    logger: deps.logger,
  });
  const engine = createQueryEngine({
    catalog,
    s3: deps.s3,
    cache,
    logger: deps.logger,
    queryMemoryBytes: deps.queryMemoryBytes,
    spillDir: join(deps.lakeDir, 'spill'),
  });
  const runner = createQueryRunner({
    state,
    file,
    engine,
    s3: deps.s3,
    resultsDir: join(deps.lakeDir, 'results'),
    logger: deps.logger,
    concurrency: deps.concurrency,
  });
  const operations: Record<string, OperationHandler> = {
    ...queryExecutionOperations(state, file, runner),
    ...queryResultsOperation(state, runner),
    ...workGroupOperations(state, file),
    ...namedQueryOperations(state, file),
    ...catalogViewOperations(catalog),
  };
  return { operations, shutdown: () => runner.shutdown() };
}
