/**
 * The stack's moto writes Scan and Query responses itself (json.dumps of moto's own result, not moto's response
 * serializer: moto_server.py). Every body must be the one moto's own server sends: the same requests go to both, on
 * the same data, and the raw JSON bodies must be equal, pages, binary values (base64), projections, counts,
 * consumed capacity and errors included.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DynamoDBClient,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { loadConfig } from '../../src/config';
import { stackPaths } from '../../src/local/paths';
import { httpOk } from '../../src/local/probes';
import { freePort } from '../../src/support/net';
import { waitFor } from '../../src/support/timing';

interface Moto {
  name: string;
  endpoint: string;
  process: ChildProcess;
}

const region = 'us-east-1';
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
let ours: Moto;
let theirs: Moto;

async function startMoto(name: string, script: string[]): Promise<Moto> {
  const port = await freePort();
  const python = join(stackPaths(loadConfig()).venvDir, 'bin', 'python');
  const child = spawn(python, [...script, '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  await waitFor(name, async () => httpOk('127.0.0.1', port, '/moto-api/'), { timeoutMs: 60_000 });
  return { name, endpoint: `http://127.0.0.1:${port}`, process: child };
}

/** One DynamoDB request as the SDK sends it (JSON 1.0), answered raw: status and parsed body. */
async function call(moto: Moto, action: string, body: object): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${moto.endpoint}/`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': `DynamoDB_20120810.${action}`,
      Authorization:
        'AWS4-HMAC-SHA256 Credential=testing/20261207/us-east-1/dynamodb/aws4_request, ' +
        'SignedHeaders=content-type;host;x-amz-target, Signature=0',
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  // moto answers a request it fails on with an HTML page: kept as text, so that both servers' can be compared.
  return { status: response.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

/** The same request to both: their answers, which must be equal. */
async function both(action: string, body: object) {
  const [mine, reference] = await Promise.all([call(ours, action, body), call(theirs, action, body)]);
  return { mine, reference };
}

/** An item with every attribute type, binary ones included (raw bytes, sent and returned as base64). */
function item(pk: string, sk: number): Record<string, AttributeValue> {
  const bytes = Uint8Array.from([sk, 0, 255, 10]);
  return {
    pk: { S: pk },
    sk: { N: String(sk) },
    text: { S: `order ${sk} "quoted" é ✓` },
    amount: { N: `${sk}.25` },
    blob: { B: bytes },
    flag: { BOOL: sk % 2 === 0 },
    nothing: { NULL: true },
    list: { L: [{ S: 'a' }, { N: '1' }, { M: { deep: { B: bytes } } }] },
    map: { M: { inner: { S: `i${sk}` }, count: { N: String(sk * 2) } } },
    tags: { SS: ['x', `t${sk}`] },
    numbers: { NS: ['1', String(sk + 2)] },
    blobs: { BS: [bytes, Uint8Array.from([1, 2, 3])] },
  };
}

async function seed(moto: Moto): Promise<void> {
  const dynamodb = new DynamoDBClient({ endpoint: moto.endpoint, region, credentials });
  await dynamodb.send(
    new CreateTableCommand({
      TableName: 'keyed',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'N' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  // Hash key only, with a stream: the orders table's shape (moto_server.py pages its Scan by bisection).
  await dynamodb.send(
    new CreateTableCommand({
      TableName: 'orders',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  const keyed = Array.from({ length: 60 }, (_, i) => item(`p${i % 4}`, i));
  const orders = Array.from({ length: 45 }, (_, i) => item(`order-${String(i).padStart(3, '0')}`, i));
  for (const [table, items] of [
    ['keyed', keyed],
    ['orders', orders],
  ] as const)
    for (let i = 0; i < items.length; i += 25)
      await dynamodb.send(
        new BatchWriteItemCommand({
          RequestItems: { [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) },
        }),
      );
  dynamodb.destroy();
}

beforeAll(async () => {
  [ours, theirs] = await Promise.all([
    startMoto('stack moto', [join(__dirname, '../../src/local/services/moto_server.py')]),
    startMoto('moto server', ['-m', 'moto.server']),
  ]);
  await Promise.all([seed(ours), seed(theirs)]);
}, 120_000);

afterAll(() => {
  ours?.process.kill('SIGTERM');
  theirs?.process.kill('SIGTERM');
});

it.each(['keyed', 'orders'])('answers a paged Scan of %s page by page as moto does', async (TableName) => {
  let ExclusiveStartKey: unknown;
  let pages = 0;
  let items = 0;
  do {
    const { mine, reference } = await both('Scan', { TableName, Limit: 7, ExclusiveStartKey });
    expect(mine).toEqual(reference);
    expect(mine.status).toBe(200);
    const body = mine.body as { Items: unknown[]; LastEvaluatedKey?: unknown };
    items += body.Items.length;
    ExclusiveStartKey = body.LastEvaluatedKey;
    pages++;
  } while (ExclusiveStartKey);
  expect(items).toBe(TableName === 'keyed' ? 60 : 45);
  expect(pages).toBeGreaterThan(5);
});

it.each([
  ['a segment of a parallel Scan', { TableName: 'orders', Segment: 1, TotalSegments: 3 }],
  [
    'a projection with attribute names, nested paths and a binary',
    {
      TableName: 'keyed',
      // list, map and blob are reserved words: named.
      ProjectionExpression: '#p, sk, #m.inner, #b, #l',
      ExpressionAttributeNames: { '#p': 'pk', '#m': 'map', '#b': 'blob', '#l': 'list' },
    },
  ],
  [
    'a filter',
    {
      TableName: 'keyed',
      FilterExpression: 'amount > :low AND flag = :yes',
      ExpressionAttributeValues: { ':low': { N: '20' }, ':yes': { BOOL: true } },
    },
  ],
  ['Select COUNT', { TableName: 'keyed', Select: 'COUNT', Limit: 25 }],
  ['consumed capacity (TOTAL)', { TableName: 'orders', ReturnConsumedCapacity: 'TOTAL', Limit: 3 }],
  ['consumed capacity (INDEXES)', { TableName: 'orders', ReturnConsumedCapacity: 'INDEXES', Limit: 3 }],
])('answers a Scan with %s as moto does', async (_what, request) => {
  const { mine, reference } = await both('Scan', request);
  expect(mine).toEqual(reference);
  expect(mine.body).toEqual(expect.objectContaining({ Count: expect.any(Number) }));
  expect(mine.status).toBe(200);
});

it.each([
  [
    'a key condition, backwards, paged',
    {
      TableName: 'keyed',
      KeyConditionExpression: 'pk = :p AND sk > :s',
      ExpressionAttributeValues: { ':p': { S: 'p1' }, ':s': { N: '10' } },
      ScanIndexForward: false,
      Limit: 5,
    },
  ],
  [
    'no match',
    {
      TableName: 'keyed',
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': { S: 'nobody' } },
    },
  ],
  [
    'a projection and Select COUNT',
    {
      TableName: 'keyed',
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': { S: 'p2' } },
      Select: 'COUNT',
    },
  ],
])('answers a Query with %s as moto does', async (_what, request) => {
  const { mine, reference } = await both('Query', request);
  expect(mine.status).toBe(200);
  expect(mine).toEqual(reference);
});

it.each([
  ['Scan', { TableName: 'missing' }],
  ['Scan', { TableName: 'orders', Segment: 3, TotalSegments: 3 }],
  [
    'Query',
    {
      TableName: 'keyed',
      KeyConditionExpression: 'nope = :p',
      ExpressionAttributeValues: { ':p': { S: 'x' } },
    },
  ],
])('answers a bad %s with the error moto gives', async (action, request) => {
  const { mine, reference } = await both(action, request);
  expect(mine.status).toBe(400);
  expect(mine).toEqual(reference);
});

// moto_server.py builds items in one pass (one size check, shared attribute names) and keeps the parse of a
// condition expression: the same writes must succeed and fail as on moto's own server, and store the same item.
it('answers conditional writes, their failures and the item they leave as moto does', async () => {
  const put = (
    version: number,
    values: Record<string, AttributeValue>,
    names: Record<string, string> = { '#v': 'version' },
  ) =>
    both('PutItem', {
      TableName: 'orders',
      // Raw JSON: binary values would need base64 here, so an order-like item without them.
      Item: {
        pk: { S: 'conditional' },
        version: { N: String(version) },
        status: { S: version > 2 ? 'PAID' : 'CREATED' },
        address: { M: { city: { S: 'Lyon' }, lines: { L: [{ S: `${version} rue` }] } } },
      },
      ConditionExpression: 'attribute_not_exists(pk) OR #v < :v',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  const steps = [
    await put(1, { ':v': { N: '1' } }), // created
    await put(3, { ':v': { N: '3' } }), // newer: applied
    await put(2, { ':v': { N: '2' } }), // older: ConditionalCheckFailedException
    // The same request again: its parse is kept, and the names it found must count as used again.
    await put(2, { ':v': { N: '2' } }),
    await put(4, { ':v': { N: '4' } }, { '#v': 'version', '#unused': 'status' }), // a name it does not use
    await put(4, { ':v': { N: '4' } }, { '#v': 'version', '#unused': 'status' }), // again, kept
  ];
  for (const { mine, reference } of steps) expect(mine).toEqual(reference);
  expect(steps.map(({ mine }) => mine.status)).toEqual([200, 200, 400, 400, 400, 400]);
  expect(JSON.stringify(steps[3].mine.body)).toContain('ConditionalCheckFailedException');
  expect(JSON.stringify(steps[5].mine.body)).toContain('#unused');

  const { mine, reference } = await both('GetItem', {
    TableName: 'orders',
    Key: { pk: { S: 'conditional' } },
  });
  expect(mine).toEqual(reference);
  expect((mine.body as { Item: { version: unknown } }).Item.version).toEqual({ N: '3' });
});

it('rejects an item over the size limit as moto does, and takes one just under it', async () => {
  // moto's limit: 405,000 bytes of names and values.
  const sized = (pk: string, bytes: number) => ({
    TableName: 'orders',
    Item: { pk: { S: pk }, note: { S: 'x'.repeat(bytes - 'pk'.length - pk.length - 'note'.length) } },
  });
  const over = await both('PutItem', sized('big', 405_001));
  expect(over.mine).toEqual(over.reference);
  expect(over.mine.status).toBe(400);
  expect(JSON.stringify(over.mine.body)).toContain('Item size has exceeded the maximum allowed size');
  const under = await both('PutItem', sized('big', 405_000));
  expect(under.mine).toEqual(under.reference);
  expect(under.mine.status).toBe(200);
});

// moto counted a table's items (DescribeTable's ItemCount) by iterating them unlocked: a PutItem of a new key on
// another request thread made the DescribeTable fail with a 500. moto's own server still does; the stack's must not.
it('answers DescribeTable while new items are written, counting every one', async () => {
  const TableName = 'counted';
  await call(ours, 'CreateTable', {
    TableName,
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    BillingMode: 'PAY_PER_REQUEST',
  });
  const seeded = 5_000;
  for (let start = 0; start < seeded; start += 25)
    await call(ours, 'BatchWriteItem', {
      RequestItems: {
        [TableName]: Array.from({ length: 25 }, (_, i) => ({
          PutRequest: { Item: { pk: { S: `seed-${start + i}` } } },
        })),
      },
    });
  const lanes = 8;
  const perLane = 250;
  let writing = lanes;
  const statuses: number[] = [];
  await Promise.all([
    ...Array.from({ length: lanes }, async (_, lane) => {
      for (let i = 0; i < perLane; i++) {
        const put = await call(ours, 'PutItem', { TableName, Item: { pk: { S: `new-${lane}-${i}` } } });
        expect(put.status).toBe(200);
      }
      writing -= 1;
    }),
    (async () => {
      while (writing > 0) statuses.push((await call(ours, 'DescribeTable', { TableName })).status);
    })(),
  ]);
  expect(statuses.length).toBeGreaterThan(10);
  expect(statuses.filter((status) => status !== 200)).toEqual([]);
  const described = await call(ours, 'DescribeTable', { TableName });
  expect((described.body as { Table: { ItemCount: number } }).Table.ItemCount).toBe(seeded + lanes * perLane);
});
