/**
 * Idempotently ensures the `orders_current` view (src/lake-format/current-view.ts) the way Athena keeps views:
 * `CREATE OR REPLACE VIEW` runs through Athena (StartQueryExecution in the pipeline's workgroup), which writes
 * the Glue table (`VIRTUAL_VIEW`, `/* Presto View: <base64> *\/`). The stored definition is read back from Glue
 * first: the same SQL is left alone, another SQL (e.g. columns the lake gained) is replaced. Needs the CDC table
 * and the workgroup to exist.
 */
import {
  GetQueryExecutionCommand,
  StartQueryExecutionCommand,
  type AthenaClient,
} from '@aws-sdk/client-athena';
import { EntityNotFoundException, GetTableCommand, type GlueClient, type Table } from '@aws-sdk/client-glue';
import { ORDERS_CURRENT_VIEW, type Config } from '../config';
import type { EnsureOutcome } from '../contract/outcome';
import { createOrdersCurrentViewSql, ordersCurrentViewSql } from '../lake-format/current-view';
import { RetriableError } from '../support/errors';
import { waitFor } from '../support/timing';

/** Athena ended the view's statement FAILED: a user error (its SQL, the catalog) is not worth another try. */
export class CurrentViewError extends RetriableError {
  override readonly name = 'CurrentViewError';
  constructor(
    message: string,
    readonly retriable: boolean,
  ) {
    super(message);
  }
}

/** Athena's ErrorCategory of a failure caused by the statement or the catalog rather than by the service. */
const USER_ERROR = 2;

const PRESTO_VIEW = /^\/\* Presto View: ([A-Za-z0-9+/=\s]+) \*\/$/;

/** The view's SQL as Glue stores it; undefined when there is no view. A table of that name is a conflict. */
async function storedViewSql(glue: GlueClient, config: Config): Promise<string | undefined> {
  let table: Table | undefined;
  try {
    table = (
      await glue.send(new GetTableCommand({ DatabaseName: config.glue.database, Name: ORDERS_CURRENT_VIEW }))
    ).Table;
  } catch (error) {
    if (error instanceof EntityNotFoundException) return undefined;
    throw error;
  }
  const name = `${config.glue.database}.${ORDERS_CURRENT_VIEW}`;
  if (table?.TableType !== 'VIRTUAL_VIEW')
    throw new Error(
      `Glue table ${name} exists with TableType ${table?.TableType ?? '(none)'}, expected an Athena view`,
    );
  const encoded = PRESTO_VIEW.exec(table.ViewOriginalText ?? '');
  // A view another engine wrote (a Hive view's plain SQL) is replaced by Athena's.
  if (!encoded) return '';
  const definition = JSON.parse(Buffer.from(encoded[1], 'base64').toString('utf8')) as {
    originalSql?: unknown;
  };
  return typeof definition.originalSql === 'string' ? definition.originalSql : '';
}

/**
 * Whether two SQL texts are the same view definition, whatever the layout and identifier quoting: Trino may
 * store a view's query reformatted.
 */
function sameSql(a: string, b: string): boolean {
  const normalize = (sql: string) => sql.replace(/["\s]+/g, '').toLowerCase();
  return normalize(a) === normalize(b);
}

/** Runs one DDL statement through Athena and waits for it; a FAILED statement throws Athena's reason. */
async function runAthenaDdl(athena: AthenaClient, config: Config, sql: string): Promise<void> {
  const { QueryExecutionId: id } = await athena.send(
    new StartQueryExecutionCommand({
      QueryString: sql,
      QueryExecutionContext: { Database: config.glue.database, Catalog: 'AwsDataCatalog' },
      WorkGroup: config.athena.workgroup,
    }),
  );
  if (!id) throw new Error('Athena StartQueryExecution returned no QueryExecutionId');
  const status = await waitFor(
    `Athena query ${id} (CREATE OR REPLACE VIEW ${ORDERS_CURRENT_VIEW})`,
    async () => {
      const execution = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
      const state = execution.QueryExecution?.Status?.State;
      return state === 'SUCCEEDED' || state === 'FAILED' || state === 'CANCELLED'
        ? execution.QueryExecution?.Status
        : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 200 },
  );
  if (status.State !== 'SUCCEEDED')
    throw new CurrentViewError(
      `Athena ${status.State} the view ${config.glue.database}.${ORDERS_CURRENT_VIEW} (query ${id}): ${status.StateChangeReason ?? 'no reason given'}`,
      status.AthenaError?.ErrorCategory !== USER_ERROR,
    );
}

/**
 * @example
 *   await ensureOrdersCurrentView(aws.athena, aws.glue, config); // { kind: 'athena-view', name: 'orders_current', action: 'created' }
 */
export async function ensureOrdersCurrentView(
  athena: AthenaClient,
  glue: GlueClient,
  config: Config,
): Promise<EnsureOutcome> {
  const outcome = { kind: 'athena-view', name: ORDERS_CURRENT_VIEW };
  const stored = await storedViewSql(glue, config);
  if (stored !== undefined && sameSql(stored, ordersCurrentViewSql(config.glue.database)))
    return { ...outcome, action: 'exists' };
  await runAthenaDdl(athena, config, createOrdersCurrentViewSql(config.glue.database, ORDERS_CURRENT_VIEW));
  return stored === undefined
    ? { ...outcome, action: 'created' }
    : { ...outcome, action: 'updated', detail: 'view definition replaced' };
}
