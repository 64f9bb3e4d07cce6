/**
 * Athena API operations as the Athena API reference documents them (issue 17): StartQueryExecution's
 * ClientRequestToken idempotency, GetQueryRuntimeStatistics, and StopQueryExecution arriving while a finished
 * query's result is being published. Each case names its documentation source.
 */
import {
  GetQueryExecutionCommand,
  GetQueryRuntimeStatisticsCommand,
  InvalidRequestException,
  StartQueryExecutionCommand,
  type StartQueryExecutionCommandInput,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { CreateDatabaseCommand, DeleteDatabaseCommand } from '@aws-sdk/client-glue';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import {
  crawlPrefix,
  type LakeHarness,
  orderRows,
  parquetOf,
  put,
  runQuery,
  startHarness,
  suffix,
  waitForQuery,
} from './lake-support';

let h: LakeHarness;
const db = `athena_api_${suffix()}`;
const ROWS = 25;

beforeAll(async () => {
  h = await startHarness();
  await h.aws.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: db } }));
  await put(h.aws.s3, h.bucket, 'api/orders/part-0.parquet', parquetOf(orderRows(ROWS, 'a')));
  await crawlPrefix(h, db, 'api');
});

afterAll(async () => {
  await h?.aws.glue.send(new DeleteDatabaseCommand({ Name: db })).catch(() => undefined);
  await h?.close();
});

const resultLocation = () => ({ OutputLocation: `s3://${h.bucket}/api-results/` });

/**
 * Athena API reference, StartQueryExecution, ClientRequestToken: "If another StartQueryExecution request is
 * received, the same response is returned and another query is not created. An error is returned if a
 * parameter, such as QueryString, has changed." (Errors of the operation: InvalidRequestException.)
 */
describe('StartQueryExecution ClientRequestToken', () => {
  const request = (token: string, overrides: Partial<StartQueryExecutionCommandInput> = {}) =>
    new StartQueryExecutionCommand({
      QueryString: 'SELECT count(*) FROM orders',
      ClientRequestToken: token,
      QueryExecutionContext: { Database: db },
      ResultConfiguration: resultLocation(),
      ...overrides,
    });

  test('the same token with the same request returns the same QueryExecutionId', async () => {
    const token = `same-${suffix()}-${'x'.repeat(32)}`;
    const first = await h.aws.athena.send(request(token));
    const again = await h.aws.athena.send(request(token));
    expect(again.QueryExecutionId).toBe(first.QueryExecutionId);
  });

  test('the same token with a different query string, database or parameters is InvalidRequestException', async () => {
    const token = `changed-${suffix()}-${'x'.repeat(32)}`;
    const first = await h.aws.athena.send(request(token));
    const changes: [string, Partial<StartQueryExecutionCommandInput>][] = [
      ['QueryString', { QueryString: 'SELECT 1' }],
      ['QueryExecutionContext.Database', { QueryExecutionContext: { Database: 'default' } }],
      ['ExecutionParameters', { QueryString: 'SELECT count(*) FROM orders', ExecutionParameters: ['1'] }],
    ];
    for (const [changed, overrides] of changes) {
      const error = await h.aws.athena.send(request(token, overrides)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidRequestException);
      expect((error as Error).message).toBe(
        `ClientRequestToken ${token} was used by query ${first.QueryExecutionId} with a different ${changed}; an idempotent retry must repeat the request unchanged`,
      );
    }
  });
});

/**
 * Athena API reference, GetQueryRuntimeStatistics / QueryRuntimeStatistics: Timeline (the times
 * GetQueryExecution's Statistics give), Rows (InputBytes, OutputRows, OutputBytes) and OutputStage.
 */
describe('GetQueryRuntimeStatistics', () => {
  test("a finished query's timeline, rows and bytes, and its one stage", async () => {
    const q = await runQuery(h, 'SELECT order_id FROM orders', db);
    expect(q.Status?.State).toBe('SUCCEEDED');
    const csvKey = (q.ResultConfiguration?.OutputLocation ?? '').replace(`s3://${h.bucket}/`, '');
    const result = await h.aws.s3.send(new HeadObjectCommand({ Bucket: h.bucket, Key: csvKey }));
    const { QueryRuntimeStatistics: stats } = await h.aws.athena.send(
      new GetQueryRuntimeStatisticsCommand({ QueryExecutionId: q.QueryExecutionId }),
    );
    expect(stats?.Timeline).toEqual({
      QueryQueueTimeInMillis: q.Statistics?.QueryQueueTimeInMillis,
      ServicePreProcessingTimeInMillis: 0,
      QueryPlanningTimeInMillis: q.Statistics?.QueryPlanningTimeInMillis,
      EngineExecutionTimeInMillis: q.Statistics?.EngineExecutionTimeInMillis,
      ServiceProcessingTimeInMillis: q.Statistics?.ServiceProcessingTimeInMillis,
      TotalExecutionTimeInMillis: q.Statistics?.TotalExecutionTimeInMillis,
    });
    const rows = {
      InputBytes: q.Statistics?.DataScannedInBytes,
      OutputRows: ROWS,
      OutputBytes: result.ContentLength,
    };
    expect(stats?.Rows).toEqual(rows);
    expect(stats?.OutputStage).toEqual({
      StageId: 0,
      State: 'FINISHED',
      ...rows,
      ExecutionTime: q.Statistics?.EngineExecutionTimeInMillis,
    });
  });

  test('an unknown QueryExecutionId is InvalidRequestException', async () => {
    await expect(
      h.aws.athena.send(new GetQueryRuntimeStatisticsCommand({ QueryExecutionId: `missing-${suffix()}` })),
    ).rejects.toBeInstanceOf(InvalidRequestException);
  });
});

/**
 * StopQueryExecution takes effect whenever it arrives (issue 17): here while the finished query's result is
 * being published (its .metadata PUT held), the last window in which a stop could leave a CANCELLED query's
 * result behind in S3.
 */
test('a stop while the result is being published ends CANCELLED with no result left in S3', async () => {
  let reached!: () => void;
  const publishing = new Promise<void>((resolve) => (reached = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const hold = 'hold-result-metadata';
  h.lakeS3.middlewareStack.add(
    (next) => async (args) => {
      const key = (args.input as { Key?: string }).Key ?? '';
      if (key.endsWith('.csv.metadata')) {
        reached();
        await released;
      }
      return next(args);
    },
    { step: 'initialize', name: hold },
  );
  let id = '';
  try {
    ({ QueryExecutionId: id = '' } = await h.aws.athena.send(
      new StartQueryExecutionCommand({
        QueryString: 'SELECT order_id FROM orders',
        QueryExecutionContext: { Database: db },
        ResultConfiguration: resultLocation(),
      }),
    ));
    await publishing;
    await h.aws.athena.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
  } finally {
    release();
    h.lakeS3.middlewareStack.remove(hold);
  }
  const q = await waitForQuery(h.aws.athena, id);
  expect(q.Status?.State).toBe('CANCELLED');
  const exists = (key: string) =>
    h.aws.s3.send(new HeadObjectCommand({ Bucket: h.bucket, Key: key })).then(
      () => true,
      () => false,
    );
  expect({
    csv: await exists(`api-results/${id}.csv`),
    metadata: await exists(`api-results/${id}.csv.metadata`),
  }).toEqual({ csv: false, metadata: false });
  const again = await h.aws.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
  expect(again.QueryExecution?.Status?.State).toBe('CANCELLED');
});
