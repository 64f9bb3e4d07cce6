/**
 * Makes each object the sink writes queryable at once, instead of at the next crawl: the first object of an
 * hour registers the hour's Glue partition (BatchCreatePartition; one that exists is fine). It runs right after
 * the object's PUT and before the offsets are committed, so a committed record is always in a registered
 * partition (a crash in between replays the segment, which registers again).
 *
 * An hour that compaction has moved to a versioned folder (see compaction-layout.ts) no longer reads the sink's
 * folder: a late object there is also copied into the partition's current version, under its own name, so it is
 * visible within the same bound; the next compaction folds it in once (by name). Registered hours are cached per
 * process while they are open; an hour that has ended is looked up again on each write (late writes are rare),
 * since compaction may have moved it since.
 *
 * Before provisioning has created the table (a sink started first) there is nothing to register into: the
 * objects stay in S3, the crawler or a later write registers their hours, and a warning says so once a minute.
 *
 * @example
 *   const storage = withPartitionRegistration(createS3Storage(...), createPartitionRegistrar({ glue, s3, config, logger }));
 */
import { CopyObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { EntityNotFoundException, type GlueClient } from '@aws-sdk/client-glue';
import type { Config } from '../../config';
import type { Logger } from '../../observability/logger';
import { parseObjectKey } from '../../lake-format/cdc-layout';
import {
  fileName,
  hourEndMs,
  keyPrefixOf,
  s3FolderUrl,
  sinkHourFolder,
} from '../../lake-format/compaction-layout';
import type { LakeStorage } from '../../lake-format/storage';
import { cdcPartitionLocation, registerCdcPartitions } from '../../resources/cdc-catalog';

export interface PartitionRegistrar {
  /** Registers the partition of a lake object just written (and makes it visible if the hour was compacted). */
  objectWritten(key: string): Promise<void>;
  /** Partitions this process registered or found registered. */
  registered(): number;
}

export interface PartitionRegistrarOptions {
  glue: GlueClient;
  s3: S3Client;
  config: Config;
  logger: Logger;
  now?: () => number;
}

export function createPartitionRegistrar(options: PartitionRegistrarOptions): PartitionRegistrar {
  const { glue, s3, config } = options;
  const now = options.now ?? Date.now;
  const bucket = config.lake.bucket;
  const log = options.logger.child({ component: 's3-sink-partitions' });
  /** Open hours known to be registered at the sink's folder. */
  const registered = new Set<string>();
  let warnedAt = -Infinity;

  /** Copies a late object into the compacted version the partition reads now. */
  const copyInto = async (key: string, folder: string) => {
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: `${folder}${fileName(key)}`,
        CopySource: `${bucket}/${key}`,
      }),
    );
  };

  const lateObject = async (key: string, partitionPath: string) => {
    const sinkFolder = sinkHourFolder(config, partitionPath);
    let location = keyPrefixOf(bucket, await cdcPartitionLocation(glue, config, partitionPath));
    if (location === undefined) {
      await registerCdcPartitions(glue, config, [
        { partitionPath, location: s3FolderUrl(bucket, sinkFolder) },
      ]);
      location = keyPrefixOf(bucket, await cdcPartitionLocation(glue, config, partitionPath));
    }
    if (location === undefined || location === sinkFolder) return;
    await copyInto(key, location);
    // A compaction may have switched versions meanwhile: the new one must have it too.
    const after = keyPrefixOf(bucket, await cdcPartitionLocation(glue, config, partitionPath));
    if (after !== undefined && after !== location && after !== sinkFolder) await copyInto(key, after);
    log.info(
      { partitionPath, key, version: after ?? location },
      'late object copied into the compacted hour',
    );
  };

  return {
    registered: () => registered.size,
    async objectWritten(key) {
      const partitionPath = parseObjectKey(key)?.partitionPath;
      if (partitionPath === undefined) return;
      try {
        if (hourEndMs(partitionPath) <= now()) {
          registered.delete(partitionPath);
          await lateObject(key, partitionPath);
          return;
        }
        if (registered.has(partitionPath)) return;
        await registerCdcPartitions(glue, config, [
          { partitionPath, location: s3FolderUrl(bucket, sinkHourFolder(config, partitionPath)) },
        ]);
        registered.add(partitionPath);
        log.info({ partitionPath }, 'partition registered');
      } catch (error) {
        if (!(error instanceof EntityNotFoundException)) throw error;
        if (now() - warnedAt >= 60_000) {
          warnedAt = now();
          log.warn(
            { database: config.glue.database, error: error.message },
            'the CDC table is not provisioned yet: partitions not registered (run provision)',
          );
        }
      }
    },
  };
}

/** The sink's storage with the registrar after every PUT of a lake object (reads pass through unchanged). */
export function withPartitionRegistration(storage: LakeStorage, registrar: PartitionRegistrar): LakeStorage {
  return {
    ...storage,
    async put(key, body, contentType, metadata) {
      await storage.put(key, body, contentType, metadata);
      await registrar.objectWritten(key);
    },
  };
}
