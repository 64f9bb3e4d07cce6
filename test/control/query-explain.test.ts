/**
 * The query workflow on a local endpoint started here (with this branch's code): EXPLAIN and EXPLAIN ANALYZE,
 * which its read-only guard allows, run and return the plan as text rows (issue 17); a statement over Athena's
 * QueryString limit fails before anything runs, saying the limit and its size (issue 16 h).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createS3Client } from '../../src/aws/clients';
import { type LakeServer, startLakeServer } from '../../src/lake-endpoint/server';
import { ensureWorkgroup } from '../../src/resources/athena';
import { ensureGlueDatabase } from '../../src/resources/glue';
import { ensureBucket } from '../../src/resources/s3-bucket';
import * as workflows from '../../src/workflows';
import { uniqueSuffix } from '../support/fresh-config';
import { cleanupAws, controlConfig, startHarness, type ControlPlaneHarness } from './support';

let lake: LakeServer;
let lakeDir: string;
let lakeS3: ReturnType<typeof createS3Client>;
let harness: ControlPlaneHarness;

const runQuery = (sql: string) =>
  harness.client.workflow.execute(workflows.query, {
    taskQueue: harness.config.temporal.taskQueue,
    workflowId: `query-explain-${uniqueSuffix()}`,
    args: [{ sql }],
  });

beforeAll(async () => {
  lakeDir = mkdtempSync(join(tmpdir(), 'ctl-explain-'));
  const probe = controlConfig('ctl-explain');
  lakeS3 = createS3Client(probe);
  lake = await startLakeServer({ port: 0, dataDir: join(lakeDir, 'lake'), s3: lakeS3, logLevel: 'warn' });
  harness = await startHarness(controlConfig('ctl-explain', lake.url));
  await ensureBucket(harness.aws.s3, harness.config);
  await ensureGlueDatabase(harness.aws.glue, harness.config);
  await ensureWorkgroup(harness.aws.athena, harness.config);
}, 120_000);

afterAll(async () => {
  await cleanupAws(harness.aws, harness.config);
  await harness.close();
  await lake.close();
  lakeS3.destroy();
  rmSync(lakeDir, { recursive: true, force: true });
});

test.each([
  ['EXPLAIN', 'PROJECTION'],
  ['EXPLAIN ANALYZE', 'Query Profiling Information'],
])(
  '%s runs through the query workflow and returns the plan as text rows',
  async (explain, mention) => {
    const result = await runQuery(`${explain} SELECT x * 2 AS doubled FROM (VALUES (1), (2), (3)) AS t(x)`);
    expect(result.columns.map((c) => c.name)).toEqual(['Query Plan']);
    expect(result.rows.length).toBeGreaterThan(1);
    expect(result.rows.every((row) => row.length === 1)).toBe(true);
    expect(result.rows.map((row) => row[0]).join('\n')).toContain(mention);
  },
  60_000,
);

test('a statement over 262,144 bytes fails before it reaches Athena, naming the limit and its size', async () => {
  const sql = `SELECT '${'x'.repeat(300_000)}'`;
  const error = await runQuery(sql).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect(cause.message).toBe(
    'query: invalid argument "sql": is 300,009 bytes (UTF-8), over Athena\'s QueryString limit of 262,144 bytes',
  );
}, 60_000);
