/**
 * Compaction of the CDC table's closed hours (the compact workflow strings these together): merge an hour's
 * objects into as few objects of the target size as fit, sorted by order id and change time, in a new versioned
 * folder; switch readers to it with one UpdatePartition; copy what the sink wrote meanwhile into it; delete the
 * replaced objects after the reader grace. Layout and manifest: src/lake-format/compaction-layout.ts.
 *
 * Every step can run again after a crash. The version's name is a hash of what it folds, so a retried merge
 * rewrites the same keys; the manifest is written last, and readers move only to a version with a manifest; the
 * switch succeeds when the partition is already there; deletions take only objects a version's manifest has
 * folded, or versions readers no longer use.
 */
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { CopyObjectCommand, DeleteObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import type { GlueClient } from '@aws-sdk/client-glue';
import type { Config } from '../config';
import type { Logger } from '../observability/logger';
import { cdcTableRoot, parseObjectKey } from '../lake-format/cdc-layout';
import {
  COMPACTION_MANIFEST,
  compactedHourRoot,
  fileName,
  hourEndMs,
  keyPrefixOf,
  s3FolderUrl,
  sinkHourFolder,
  versionFolder,
  type CompactionManifest,
} from '../lake-format/compaction-layout';
import { createLakeFormat } from '../lake-format/formats';
import { HourMergeError, mergeObjects } from '../lake-format/hour-merge';
import { createS3Storage, type StoredObject } from '../lake-format/storage';
import { cdcPartitionLocation, moveCdcPartition, registerCdcPartitions } from '../resources/cdc-catalog';
import { FailureType } from '../contract/failure-types';
import { permanentFailure, withAwsErrors } from './errors';

/** A sink object's name: `<topic>+<partition>+<start offset>.<ext>` (cdc-layout.ts). */
const SINK_OBJECT_NAME = /^[^/+]+\+\d+\+\d+\.[^/]+$/;
/** DeleteObjects takes at most 1,000 keys. */
const DELETE_BATCH = 1000;

export interface CompactionCandidate {
  partitionPath: string;
  /** Sink objects in the hour's folder. */
  sinkObjects: number;
  /** The child workflow id that locks the hour: one compaction of it at a time. */
  lockId: string;
}

export interface MergedHour {
  partitionPath: string;
  /** False: nothing to fold (the hour is one object already, or nothing new since its version). */
  merged: boolean;
  /** Key prefix readers use now, and (merged) the new version's. */
  from: string;
  to: string;
  objectsBefore: number;
  objectsAfter: number;
  rows: number;
  bytesBefore: number;
  bytesAfter: number;
  /** Objects a cleanup would delete now (folded sink objects, unused versions). */
  leftovers: number;
}

export function createCompactionActivities(deps: {
  s3: S3Client;
  glue: GlueClient;
  config: Config;
  logger: Logger;
}) {
  const { s3, glue, config } = deps;
  const log = deps.logger.child({ component: 'compaction' });
  const bucket = config.lake.bucket;
  const storage = createS3Storage({ s3, bucket, logger: deps.logger });
  const format = createLakeFormat(config);

  const readManifest = async (folder: string): Promise<CompactionManifest | undefined> => {
    if ((await storage.head(`${folder}${COMPACTION_MANIFEST}`)) === undefined) return undefined;
    const body = await storage.get(`${folder}${COMPACTION_MANIFEST}`);
    return JSON.parse(Buffer.from(body).toString('utf8')) as CompactionManifest;
  };

  /** Where readers of the hour read now (a key prefix); registers the hour if the sink could not. */
  const currentFolder = async (partitionPath: string): Promise<string> => {
    const sinkFolder = sinkHourFolder(config, partitionPath);
    let location = await cdcPartitionLocation(glue, config, partitionPath);
    if (location === undefined) {
      await registerCdcPartitions(glue, config, [
        { partitionPath, location: s3FolderUrl(bucket, sinkFolder) },
      ]);
      location = s3FolderUrl(bucket, sinkFolder);
    }
    const folder = keyPrefixOf(bucket, location);
    if (folder === undefined)
      throw permanentFailure(
        FailureType.CompactionConflict,
        `partition ${partitionPath} points outside s3://${bucket}/ (${location}): not compacting it`,
      );
    return folder;
  };

  const dataObjects = (objects: StoredObject[]) =>
    objects.filter((o) => !fileName(o.key).startsWith('_') && !fileName(o.key).startsWith('.'));

  /** What an hour's state is: the sink's objects, the version readers use and what it folded. */
  const hourState = async (partitionPath: string) => {
    const sinkFolder = sinkHourFolder(config, partitionPath);
    const from = await currentFolder(partitionPath);
    const compacted = from !== sinkFolder;
    const manifest = compacted ? await readManifest(from) : undefined;
    if (compacted && !manifest)
      throw permanentFailure(
        FailureType.CompactionConflict,
        `partition ${partitionPath} reads ${from}, which has no ${COMPACTION_MANIFEST}: not written by compaction`,
      );
    const sinkObjects = (await storage.list(sinkFolder)).filter((o) =>
      SINK_OBJECT_NAME.test(fileName(o.key)),
    );
    const visible = dataObjects(compacted ? await storage.list(from) : sinkObjects);
    const folded = new Set(manifest?.folded ?? []);
    // Each sink object once, by name: from the sink's folder, or its late copy in the version.
    const toFold = new Map<string, StoredObject>();
    for (const object of [...sinkObjects, ...visible]) {
      const name = fileName(object.key);
      if (SINK_OBJECT_NAME.test(name) && !folded.has(name) && !toFold.has(name)) toFold.set(name, object);
    }
    const parts = visible.filter((o) => manifest?.parts.includes(fileName(o.key)));
    return { sinkFolder, from, compacted, manifest, sinkObjects, visible, folded, toFold, parts };
  };

  const leftoversOf = async (partitionPath: string, keep: string, folded: Set<string>) => {
    const sinkFolder = sinkHourFolder(config, partitionPath);
    const foldedSink = (await storage.list(sinkFolder)).filter((o) => folded.has(fileName(o.key)));
    const unusedVersions = (await storage.list(compactedHourRoot(config, partitionPath))).filter(
      (o) => !o.key.startsWith(keep),
    );
    return [...foldedSink, ...unusedVersions];
  };

  return {
    /** Hours whose sink folder has objects and that closed `graceMinutes` before `asOfMs`. */
    async listCompactionCandidates(input: {
      asOfMs: number;
      graceMinutes: number;
      hours?: string[];
    }): Promise<CompactionCandidate[]> {
      const objects = await withAwsErrors('s3.ListObjectsV2', () => storage.list(cdcTableRoot(config)));
      const wanted =
        input.hours && new Set(input.hours.map((h) => `dt=${h.slice(0, 10)}/hour=${h.slice(11, 13)}`));
      const counts = new Map<string, number>();
      for (const object of objects) {
        const path = parseObjectKey(object.key)?.partitionPath;
        if (path === undefined) continue;
        counts.set(path, (counts.get(path) ?? 0) + 1);
      }
      return [...counts]
        .filter(([path]) => hourEndMs(path) + input.graceMinutes * 60_000 <= input.asOfMs)
        .filter(([path]) => !wanted || wanted.has(path))
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([partitionPath, sinkObjects]) => ({
          partitionPath,
          sinkObjects,
          lockId: `compact-hour:s3://${bucket}/${cdcTableRoot(config)}${partitionPath}`,
        }));
    },

    /**
     * Writes the hour's new version (parts, then the manifest) unless there is nothing to fold, in memory bounded
     * whatever the hour's size (lake-format/hour-merge.ts). Heartbeats per object read and part written; a retry
     * after a crash writes the same version again (its name hashes what it folds).
     */
    async mergeHour(input: { partitionPath: string; targetBytes: number }): Promise<MergedHour> {
      const { partitionPath, targetBytes } = input;
      const state = await withAwsErrors('compaction.listHour', () => hourState(partitionPath));
      const { from, visible, toFold, parts, folded } = state;
      const bytesBefore = visible.reduce((n, o) => n + o.size, 0);
      const base = {
        partitionPath,
        from,
        objectsBefore: visible.length,
        bytesBefore,
      };
      const nothingToFold = toFold.size === 0 || (!state.compacted && toFold.size <= 1);
      if (nothingToFold) {
        const leftovers = (await leftoversOf(partitionPath, from, folded)).length;
        return {
          ...base,
          merged: false,
          to: from,
          objectsAfter: visible.length,
          rows: 0,
          bytesAfter: bytesBefore,
          leftovers,
        };
      }
      const names = [...toFold.keys()].sort();
      const version = createHash('sha256')
        .update(`${from}\n${names.join('\n')}`)
        .digest('hex')
        .slice(0, 16);
      const to = versionFolder(config, partitionPath, version);
      const ctx = Context.current();
      const merged = await mergeObjects({
        storage,
        inputs: [...parts, ...toFold.values()],
        format,
        targetBytes,
        to,
        onProgress: (detail) => ctx.heartbeat(detail),
      }).catch((error: unknown) => {
        if (error instanceof HourMergeError)
          throw permanentFailure(FailureType.CompactionConflict, error.message);
        throw error;
      });
      const partNames = merged.parts.map((part) => part.name);
      const bytesAfter = merged.parts.reduce((n, part) => n + part.bytes, 0);
      const manifest: CompactionManifest = {
        folded: [...new Set([...folded, ...names])].sort(),
        parts: partNames,
      };
      await storage.put(
        `${to}${COMPACTION_MANIFEST}`,
        Buffer.from(JSON.stringify(manifest)),
        'application/json',
      );
      log.info(
        {
          partitionPath,
          version,
          objectsBefore: visible.length,
          objectsAfter: partNames.length,
          rows: merged.rows,
        },
        'hour merged',
      );
      return {
        ...base,
        merged: true,
        to,
        objectsAfter: partNames.length,
        rows: merged.rows,
        bytesAfter,
        leftovers: 0,
      };
    },

    /** Points the partition at `to`; done already counts as success, anything but `from` is a conflict. */
    async switchHour(input: { partitionPath: string; from: string; to: string }): Promise<void> {
      const { partitionPath, from, to } = input;
      const now = await withAwsErrors('glue.GetPartition', () => currentFolder(partitionPath));
      if (now === to) return;
      if (now !== from)
        throw permanentFailure(
          FailureType.CompactionConflict,
          `partition ${partitionPath} moved to ${now} while it was compacted from ${from}: left as it is`,
          { partitionPath, from, to, now },
        );
      await withAwsErrors('glue.UpdatePartition', () =>
        moveCdcPartition(glue, config, partitionPath, s3FolderUrl(bucket, to)),
      );
      log.info({ partitionPath, to }, 'readers switched to the compacted version');
    },

    /**
     * Copies into the version the sink objects written since it was merged (a late change, or a write racing the
     * switch), so they stay visible; the next compaction folds them in by name.
     */
    async copyLateObjects(input: { partitionPath: string; to: string }): Promise<number> {
      const { partitionPath, to } = input;
      return withAwsErrors('compaction.copyLateObjects', async () => {
        const manifest = await readManifest(to);
        const folded = new Set(manifest?.folded ?? []);
        const present = new Set((await storage.list(to)).map((o) => fileName(o.key)));
        const late = (await storage.list(sinkHourFolder(config, partitionPath))).filter((o) => {
          const name = fileName(o.key);
          return SINK_OBJECT_NAME.test(name) && !folded.has(name) && !present.has(name);
        });
        for (const object of late) {
          await s3.send(
            new CopyObjectCommand({
              Bucket: bucket,
              Key: `${to}${fileName(object.key)}`,
              CopySource: `${bucket}/${object.key}`,
            }),
          );
        }
        if (late.length > 0)
          log.info({ partitionPath, late: late.length }, 'late objects copied into the version');
        return late.length;
      });
    },

    /** Deletes the sink objects the version in use has folded and every other version of the hour. */
    async deleteReplaced(input: { partitionPath: string; keep: string }): Promise<number> {
      const { partitionPath, keep } = input;
      return withAwsErrors('compaction.deleteReplaced', async () => {
        const manifest =
          keep === sinkHourFolder(config, partitionPath) ? undefined : await readManifest(keep);
        const doomed = await leftoversOf(partitionPath, keep, new Set(manifest?.folded ?? []));
        for (let i = 0; i < doomed.length; i += DELETE_BATCH) {
          const response = await s3.send(
            new DeleteObjectsCommand({
              Bucket: bucket,
              Delete: {
                Objects: doomed.slice(i, i + DELETE_BATCH).map((o) => ({ Key: o.key })),
                Quiet: true,
              },
            }),
          );
          const failed = response.Errors ?? [];
          if (failed.length > 0)
            throw new Error(
              `DeleteObjects failed for ${failed.length} key(s), e.g. ${failed[0].Key}: ${failed[0].Message}`,
            );
        }
        if (doomed.length > 0)
          log.info({ partitionPath, deleted: doomed.length }, 'replaced objects deleted');
        return doomed.length;
      });
    },
  };
}

export type CompactionActivities = ReturnType<typeof createCompactionActivities>;
