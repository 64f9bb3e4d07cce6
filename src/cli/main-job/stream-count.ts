/**
 * Reads the changes a DynamoDB stream holds by reading every shard from TRIM_HORIZON: an independent count of
 * "DynamoDB changes" for the bounded run's and the soak's checks, not taken from the relay they check.
 */
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type DynamoDBStreamsClient,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';

/** The changes a stream holds now, per shard: its retention window (older changes are trimmed). */
export type StreamWindow = Map<string, Set<string>>;

/**
 * Reads every shard from TRIM_HORIZON to its current end: the sequence numbers of the changes it holds, per
 * shard. A set, not a count of records served: moto can serve a record twice across a page boundary (after a
 * repeated sequence number). On AWS both counts are the same.
 */
export async function readStreamWindow(
  streams: DynamoDBStreamsClient,
  streamArn: string,
): Promise<StreamWindow> {
  const shards: Shard[] = [];
  let exclusiveStart: string | undefined;
  do {
    const page = await streams.send(
      new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStart }),
    );
    shards.push(...(page.StreamDescription?.Shards ?? []));
    exclusiveStart = page.StreamDescription?.LastEvaluatedShardId;
  } while (exclusiveStart);

  const window: StreamWindow = new Map();
  for (const shard of shards) {
    const sequenceNumbers = new Set<string>();
    window.set(shard.ShardId!, sequenceNumbers);
    let iterator = (
      await streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      )
    ).ShardIterator;
    // An open shard always hands back a next iterator: stop at the first empty page, the shard's current end.
    while (iterator) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      const records = page.Records ?? [];
      for (const record of records) sequenceNumbers.add(record.dynamodb!.SequenceNumber!);
      if (records.length === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return window;
}

/** The number of changes a stream holds now (see readStreamWindow). */
export async function countStreamRecords(streams: DynamoDBStreamsClient, streamArn: string): Promise<number> {
  let changes = 0;
  for (const sequenceNumbers of (await readStreamWindow(streams, streamArn)).values())
    changes += sequenceNumbers.size;
  return changes;
}
