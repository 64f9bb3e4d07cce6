/**
 * Helpers of the real-time lake tests: the Glue side as provisioning leaves it (database, CDC table, workgroup),
 * Athena queries straight through the SDK, and the catalog's view of a partition.
 */
import { randomUUID } from 'node:crypto';
import { DeleteDatabaseCommand, GetPartitionsCommand, GetTablesCommand } from '@aws-sdk/client-glue';
import type { AwsClients } from '../../src/aws/clients';
import { CDC_TABLE_FOLDER, type Config } from '../../src/config';
import { fetchQueryRows, startQuery, waitForQuery } from '../../src/activities/athena-query';
import { ensureWorkgroup } from '../../src/resources/athena';
import { ensureCdcTable } from '../../src/resources/cdc-catalog';
import { ensureGlueDatabase } from '../../src/resources/glue';
import { sleep } from '../../src/support/timing';

export async function provisionCatalog(aws: AwsClients, config: Config): Promise<void> {
  await ensureGlueDatabase(aws.glue, config);
  await ensureCdcTable(aws.glue, config);
  await ensureWorkgroup(aws.athena, config);
}

export async function dropCatalog(aws: AwsClients, config: Config): Promise<void> {
  await aws.glue.send(new DeleteDatabaseCommand({ Name: config.glue.database })).catch(() => undefined);
}

/** Runs one query and returns its rows (header dropped). */
export async function athenaRows(aws: AwsClients, config: Config, sql: string): Promise<(string | null)[][]> {
  const id = await startQuery(aws.athena, {
    sql,
    database: config.glue.database,
    workgroup: config.athena.workgroup,
    idempotencyKey: randomUUID(),
  });
  await waitForQuery(aws.athena, id, { sleep, heartbeat: () => undefined, timeoutMs: 120_000 });
  return (
    await fetchQueryRows(aws.athena, id, {
      maxRows: 10_000,
      maxBytes: 50_000_000,
      heartbeat: () => undefined,
    })
  ).rows;
}

export async function athenaCount(aws: AwsClients, config: Config, where = 'true'): Promise<number> {
  const rows = await athenaRows(aws, config, `SELECT count(*) FROM ${CDC_TABLE_FOLDER} WHERE ${where}`);
  return Number(rows[0]?.[0]);
}

export interface CatalogPartition {
  values: string[];
  location: string;
}

export async function cdcPartitions(aws: AwsClients, config: Config): Promise<CatalogPartition[]> {
  const out: CatalogPartition[] = [];
  let token: string | undefined;
  do {
    const page = await aws.glue.send(
      new GetPartitionsCommand({
        DatabaseName: config.glue.database,
        TableName: CDC_TABLE_FOLDER,
        NextToken: token,
      }),
    );
    for (const p of page.Partitions ?? [])
      out.push({ values: p.Values ?? [], location: p.StorageDescriptor?.Location ?? '' });
    token = page.NextToken;
  } while (token);
  return out.sort((a, b) => a.values.join('/').localeCompare(b.values.join('/')));
}

export async function tableNames(aws: AwsClients, config: Config): Promise<string[]> {
  const response = await aws.glue.send(new GetTablesCommand({ DatabaseName: config.glue.database }));
  return (response.TableList ?? []).map((t) => t.Name ?? '').sort();
}
