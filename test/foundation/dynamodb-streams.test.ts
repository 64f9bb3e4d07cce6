/**
 * DynamoDB + DynamoDB Streams (moto): a table with a NEW_AND_OLD_IMAGES stream; a write and an update come
 * back through the Streams API, in order, with both images.
 */
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  PutItemCommand,
  UpdateItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import { createAwsClients, destroyAwsClients } from '../../src/aws/clients';
import { freshConfig } from '../support/fresh-config';

describe('DynamoDB Streams', () => {
  const config = freshConfig('ddb-fnd');
  const table = config.dynamodb.ordersTable;
  const aws = createAwsClients(config);

  afterAll(async () => {
    await aws.dynamodb.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
    destroyAwsClients(aws);
  });

  it('returns an insert and a modify with old and new images', async () => {
    await aws.dynamodb.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'orderId', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'orderId', KeyType: 'HASH' }],
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    await waitUntilTableExists({ client: aws.dynamodb, maxWaitTime: 60, minDelay: 1 }, { TableName: table });

    await aws.dynamodb.send(
      new PutItemCommand({
        TableName: table,
        Item: { orderId: { S: 'o-1' }, status: { S: 'CREATED' }, version: { N: '1' } },
      }),
    );
    await aws.dynamodb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { orderId: { S: 'o-1' } },
        UpdateExpression: 'SET #s = :s, version = :v',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': { S: 'PAID' }, ':v': { N: '2' } },
      }),
    );

    const { Table } = await aws.dynamodb.send(new DescribeTableCommand({ TableName: table }));
    expect(Table?.StreamSpecification?.StreamViewType).toBe('NEW_AND_OLD_IMAGES');
    const streamArn = Table?.LatestStreamArn as string;
    expect(streamArn).toBeTruthy();

    const records = await readStream(streamArn, 2);
    expect(records.map((r) => r.eventName)).toEqual(['INSERT', 'MODIFY']);
    const [insert, modify] = records;
    expect(insert.dynamodb?.Keys).toEqual({ orderId: { S: 'o-1' } });
    expect(insert.dynamodb?.OldImage).toBeUndefined();
    expect(insert.dynamodb?.NewImage?.status).toEqual({ S: 'CREATED' });
    expect(modify.dynamodb?.OldImage?.status).toEqual({ S: 'CREATED' });
    expect(modify.dynamodb?.NewImage?.status).toEqual({ S: 'PAID' });
    expect(modify.dynamodb?.NewImage?.version).toEqual({ N: '2' });
    // Sequence numbers order the changes of one item.
    expect(BigInt(modify.dynamodb?.SequenceNumber as string)).toBeGreaterThan(
      BigInt(insert.dynamodb?.SequenceNumber as string),
    );
  });

  /** Reads every shard from TRIM_HORIZON until `expected` records arrived (or 30 s passed). */
  async function readStream(streamArn: string, expected: number): Promise<StreamRecord[]> {
    const deadline = Date.now() + 30_000;
    const records: StreamRecord[] = [];
    const { StreamDescription } = await aws.dynamodbStreams.send(
      new DescribeStreamCommand({ StreamArn: streamArn }),
    );
    const iterators: (string | undefined)[] = [];
    for (const shard of StreamDescription?.Shards ?? []) {
      const { ShardIterator } = await aws.dynamodbStreams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      iterators.push(ShardIterator);
    }
    while (records.length < expected && Date.now() < deadline) {
      for (let i = 0; i < iterators.length; i++) {
        if (!iterators[i]) continue;
        const page = await aws.dynamodbStreams.send(new GetRecordsCommand({ ShardIterator: iterators[i] }));
        records.push(...(page.Records ?? []));
        iterators[i] = page.NextShardIterator;
      }
      if (records.length < expected) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return records;
  }
});
