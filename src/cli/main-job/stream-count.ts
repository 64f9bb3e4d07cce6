/**
 * Counts the changes in a DynamoDB stream by reading every shard from TRIM_HORIZON: an independent count of
 * "DynamoDB changes" for the bounded run's check, not taken from the relay it checks.
 */
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type DynamoDBStreamsClient,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';

export async function countStreamRecords(streams: DynamoDBStreamsClient, streamArn: string): Promise<number> {
  const shards: Shard[] = [];
  let exclusiveStart: string | undefined;
  do {
    const page = await streams.send(
      new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStart }),
    );
    shards.push(...(page.StreamDescription?.Shards ?? []));
    exclusiveStart = page.StreamDescription?.LastEvaluatedShardId;
  } while (exclusiveStart);

  // Distinct eventIDs, not records served: moto can serve a record twice across a page boundary (after a
  // repeated sequence number). On AWS both counts are the same.
  const changes = new Set<string>();
  let unidentified = 0;
  for (const shard of shards) {
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
      for (const record of records) {
        if (record.eventID) changes.add(record.eventID);
        else unidentified++;
      }
      if (records.length === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return changes.size + unidentified;
}
