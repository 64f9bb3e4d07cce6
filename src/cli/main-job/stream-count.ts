/**
 * Reads the changes a DynamoDB stream holds by reading every shard (from TRIM_HORIZON, then on from the last
 * change read): an independent count of
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

export interface StreamWindowReader {
  /**
   * Reads every shard to its current end. The window holds sequence numbers, not a count of records served: moto
   * can serve a record twice across a page boundary (after a repeated sequence number). On AWS both are the same.
   *
   * The changes the stream held at this read or an earlier one: each read goes on after the last change it saw
   * (from TRIM_HORIZON when that change has been trimmed since), so polling a large stream does not read it all
   * again. A change trimmed between reads stays in the window: the stream had it. When the stream trims past a
   * read while it runs, the shard's window starts again at the oldest change the stream holds.
   */
  read(): Promise<StreamWindow>;
}

export function createStreamWindowReader(
  streams: DynamoDBStreamsClient,
  streamArn: string,
): StreamWindowReader {
  const window: StreamWindow = new Map();
  const lastSeen = new Map<string, string>();

  const iteratorFor = async (shardId: string): Promise<string | undefined> => {
    const after = lastSeen.get(shardId);
    if (after !== undefined) {
      try {
        const { ShardIterator } = await streams.send(
          new GetShardIteratorCommand({
            StreamArn: streamArn,
            ShardId: shardId,
            ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
            SequenceNumber: after,
          }),
        );
        return ShardIterator;
      } catch (error) {
        if ((error as Error).name !== 'TrimmedDataAccessException') throw error;
      }
    }
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    return ShardIterator;
  };

  return {
    async read() {
      const shards: Shard[] = [];
      let exclusiveStart: string | undefined;
      do {
        const page = await streams.send(
          new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStart }),
        );
        shards.push(...(page.StreamDescription?.Shards ?? []));
        exclusiveStart = page.StreamDescription?.LastEvaluatedShardId;
      } while (exclusiveStart);

      for (const shard of shards) {
        const shardId = shard.ShardId!;
        const sequenceNumbers = window.get(shardId) ?? new Set<string>();
        window.set(shardId, sequenceNumbers);
        let iterator = await iteratorFor(shardId);
        // An open shard always hands back a next iterator: stop at the first empty page, the shard's current end.
        while (iterator) {
          let page;
          try {
            page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
          } catch (error) {
            // The stream trimmed past this iterator while the shard was being read (a long read at the edge of
            // the retention): the changes it skipped are gone. The window starts again at the oldest change the
            // stream holds, so that it has no hole (a change in a hole would count as one the stream never had).
            if ((error as Error).name !== 'TrimmedDataAccessException') throw error;
            sequenceNumbers.clear();
            lastSeen.delete(shardId);
            iterator = await iteratorFor(shardId);
            continue;
          }
          const records = page.Records ?? [];
          for (const record of records) sequenceNumbers.add(record.dynamodb!.SequenceNumber!);
          if (records.length === 0) break;
          lastSeen.set(shardId, records[records.length - 1].dynamodb!.SequenceNumber!);
          iterator = page.NextShardIterator;
        }
      }
      return window;
    },
  };
}

/** The number of changes in a window. */
export function changeCount(window: StreamWindow): number {
  let changes = 0;
  for (const sequenceNumbers of window.values()) changes += sequenceNumbers.size;
  return changes;
}
