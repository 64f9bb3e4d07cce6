/**
 * One crawl of a crawler's S3 targets, in two phases:
 * 1. `prepareCrawl` (async, abortable): list the targets, drop exclusions and hidden files, classify each
 *    object (Parquet footer / JSON records), lay out tables and partitions;
 * 2. `apply()` (synchronous, so a stop never leaves half a crawl in the catalog): create or update tables
 *    and partitions under the crawler's SchemaChangePolicy, RecrawlPolicy and Configuration, writing the
 *    StorageDescriptor, SerDe and parameters the way AWS's crawler does.
 */
import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '../logger';
import { mapWithConcurrency } from '../../support/concurrency';
import { LakeApiError } from '../errors';
import type {
  CrawlerRecord,
  GlueColumn,
  LakeState,
  StorageDescriptor,
  StringMap,
  TableRecord,
} from '../lake-state';
import {
  describeS3Error,
  globToRegExp,
  isHiddenOrMarker,
  listObjects,
  parseS3Folder,
  type S3ObjectInfo,
  s3Url,
  S3UrlError,
} from '../s3-objects';
import type { GlueCatalog, PartitionInput, TableInput } from './catalog';
import { type Classification, type ClassifiedObject, classifyObject, type DataFormat } from './classify';
import { formatGlueType, parseGlueType } from './glue-types';
import { type ColumnSchema, mergeAllColumns, mergeColumns } from './schema-merge';
import { type LayoutPartition, type LayoutTable, layoutTables, partitionValuesOf } from './table-layout';

export class CrawlError extends Error {
  override readonly name = 'CrawlError';
}

export interface CrawlCounts {
  tablesCreated: number;
  tablesUpdated: number;
  tablesDeleted: number;
  partitionsCreated: number;
  partitionsUpdated: number;
  partitionsDeleted: number;
}

export interface CrawlResult extends CrawlCounts {
  /** Leaf folders seen by this crawl (for CRAWL_NEW_FOLDERS_ONLY next time). */
  crawledFolders: string[];
  unclassified: number;
}

export interface PreparedCrawl {
  apply(): CrawlResult;
}

export interface CrawlDeps {
  s3: S3Client;
  catalog: GlueCatalog;
  state: LakeState;
  logger: Logger;
  /** Objects classified at the same time. */
  concurrency?: number;
  /** Classifications of unchanged objects (same bucket, key and ETag) from earlier crawls. */
  classificationCache?: ClassificationCache;
}

/**
 * An object's classification depends only on its bytes, so one keyed by ETag can be reused by the next crawl:
 * a re-crawl reads only new or changed objects (the catalog it writes is the same as with a full re-read).
 */
export type ClassificationCache = Map<string, Omit<ClassifiedObject, keyof S3ObjectInfo>>;

const CLASSIFICATION_CACHE_LIMIT = 200_000;

async function classifyCached(
  deps: CrawlDeps,
  o: S3ObjectInfo,
  signal: AbortSignal,
): Promise<Classification> {
  const cache = deps.classificationCache;
  const key = o.etag ? `${o.bucket}/${o.key}@${o.etag}` : undefined;
  const hit = key ? cache?.get(key) : undefined;
  if (hit) return { ok: true, object: { ...o, ...hit } };
  const result = await classifyObject(deps.s3, o, signal);
  if (result.ok && key && cache) {
    if (cache.size >= CLASSIFICATION_CACHE_LIMIT) cache.clear();
    const { format, compression, columns, recordCount } = result.object;
    cache.set(key, { format, compression, columns, recordCount });
  }
  return result;
}

interface CrawlerSettings {
  combineCompatibleSchemas: boolean;
  inheritFromTable: boolean;
  mergeNewColumns: boolean;
  newFoldersOnly: boolean;
  updateInDatabase: boolean;
  deleteBehavior: string;
  tablePrefix: string;
}

const FORMATS: Record<DataFormat, { input: string; output: string; serde: string }> = {
  parquet: {
    input: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
    output: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
    serde: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
  },
  json: {
    input: 'org.apache.hadoop.mapred.TextInputFormat',
    output: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
    serde: 'org.openx.data.jsonserde.JsonSerDe',
  },
};

/** Reads the crawler's policies and its Configuration JSON (validated when the crawler was written). */
export function crawlerSettings(crawler: CrawlerRecord): CrawlerSettings {
  const configuration = crawler.Configuration
    ? (JSON.parse(crawler.Configuration) as Record<string, unknown>)
    : {};
  const grouping = (configuration.Grouping ?? {}) as Record<string, unknown>;
  const output = (configuration.CrawlerOutput ?? {}) as Record<string, Record<string, unknown> | undefined>;
  return {
    combineCompatibleSchemas: grouping.TableGroupingPolicy === 'CombineCompatibleSchemas',
    inheritFromTable: output.Partitions?.AddOrUpdateBehavior === 'InheritFromTable',
    mergeNewColumns: output.Tables?.AddOrUpdateBehavior === 'MergeNewColumns',
    newFoldersOnly: crawler.RecrawlPolicy.RecrawlBehavior === 'CRAWL_NEW_FOLDERS_ONLY',
    updateInDatabase: crawler.SchemaChangePolicy.UpdateBehavior !== 'LOG',
    deleteBehavior: crawler.SchemaChangePolicy.DeleteBehavior,
    tablePrefix: crawler.TablePrefix ?? '',
  };
}

const folderOf = (o: S3ObjectInfo) => s3Url(o.bucket, o.key.slice(0, o.key.lastIndexOf('/') + 1));

const normalizeLocation = (location: string | undefined) =>
  location ? (location.endsWith('/') ? location : `${location}/`) : '';

function statsParameters(
  files: ClassifiedObject[],
  format: DataFormat,
  compression: string,
  crawlerName: string,
): StringMap {
  const records = files.reduce((n, f) => n + f.recordCount, 0);
  const bytes = files.reduce((n, f) => n + f.size, 0);
  return {
    classification: format,
    compressionType: compression,
    typeOfData: 'file',
    recordCount: String(records),
    objectCount: String(files.length),
    averageRecordSize: String(records > 0 ? Math.round(bytes / records) : 0),
    sizeKey: String(bytes),
    UPDATED_BY_CRAWLER: crawlerName,
    CrawlerSchemaSerializerVersion: '1.0',
    CrawlerSchemaDeserializerVersion: '1.0',
  };
}

function toGlueColumns(columns: ColumnSchema[]): GlueColumn[] {
  return columns.map((c) => ({ Name: c.name, Type: formatGlueType(c.type) }));
}

function fromGlueColumns(columns: GlueColumn[] | undefined): ColumnSchema[] {
  return (columns ?? []).map((c) => {
    let type;
    try {
      type = parseGlueType(c.Type ?? 'string');
    } catch {
      type = parseGlueType('string');
    }
    return { name: c.Name.toLowerCase(), sourceName: c.Name, type };
  });
}

function storageDescriptor(
  format: DataFormat,
  compression: string,
  location: string,
  columns: ColumnSchema[],
  parameters: StringMap,
): StorageDescriptor {
  const f = FORMATS[format];
  return {
    Columns: toGlueColumns(columns),
    Location: location,
    InputFormat: f.input,
    OutputFormat: f.output,
    Compressed: compression !== 'none',
    NumberOfBuckets: -1,
    SerdeInfo: {
      SerializationLibrary: f.serde,
      // JsonSerDe's `paths` keep the keys as written in the data (the reader matches them case-sensitively).
      Parameters:
        format === 'json'
          ? { paths: columns.map((c) => c.sourceName).join(',') }
          : { 'serialization.format': '1' },
    },
    BucketColumns: [],
    SortColumns: [],
    Parameters: parameters,
    StoredAsSubDirectories: false,
  };
}

/** What the catalog compares to decide whether a crawl changed a table/partition (timestamps aside). */
const fingerprint = (value: unknown) => JSON.stringify(value);

/**
 * Lists, classifies and lays out the crawler's targets; `apply()` then writes the catalog.
 *
 * @example
 *   const prepared = await prepareCrawl(deps, crawler, controller.signal);
 *   const result = prepared.apply();
 */
export async function prepareCrawl(
  deps: CrawlDeps,
  crawler: CrawlerRecord,
  signal: AbortSignal,
): Promise<PreparedCrawl> {
  const { s3, catalog, state, logger } = deps;
  const settings = crawlerSettings(crawler);
  const databaseName = crawler.DatabaseName ?? '';
  try {
    catalog.getDatabase(databaseName);
  } catch (error) {
    if (error instanceof LakeApiError)
      throw new CrawlError(`Database ${databaseName} not found: create it before crawling into it`);
    throw error;
  }
  const previousFolders = settings.newFoldersOnly ? state.crawledFolders.get(crawler.Name) : undefined;
  const seenFolders = new Set(previousFolders ?? []);
  const knownFolders = new Set(previousFolders ?? []);

  const targets: { bucket: string; prefix: string; files: ClassifiedObject[] }[] = [];
  let unclassified = 0;
  for (const target of crawler.Targets.S3Targets ?? []) {
    let location;
    try {
      location = parseS3Folder(target.Path);
    } catch (error) {
      if (error instanceof S3UrlError) throw new CrawlError(error.message);
      throw error;
    }
    let objects: S3ObjectInfo[];
    try {
      objects = await listObjects(s3, location, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      throw new CrawlError(`Crawl of ${target.Path} failed: ${describeS3Error(error)}`);
    }
    const exclusions = (target.Exclusions ?? []).map(globToRegExp);
    objects = objects.filter(
      (o) =>
        o.size > 0 &&
        !isHiddenOrMarker(o.key) &&
        !exclusions.some((re) => re.test(o.key.slice(location.prefix.length))),
    );
    for (const o of objects) seenFolders.add(folderOf(o));
    if (previousFolders) objects = objects.filter((o) => !knownFolders.has(folderOf(o)));

    const sampled = sampleObjects(objects, target.SampleSize);
    const classifications = await mapWithConcurrency(
      sampled.classify,
      deps.concurrency ?? 16,
      async (o) => {
        try {
          return await classifyCached(deps, o, signal);
        } catch (error) {
          if (signal.aborted) throw error;
          throw new CrawlError(
            `Crawl of ${target.Path} failed reading s3://${o.bucket}/${o.key}: ${describeS3Error(error)}`,
          );
        }
      },
      signal,
    );
    const files: ClassifiedObject[] = [];
    for (const c of classifications) {
      if (c.ok) files.push(c.object);
      else {
        unclassified++;
        logger.warn(
          { crawler: crawler.Name, key: c.key, reason: c.reason },
          'object not classified, left out of the catalog',
        );
      }
    }
    files.push(...inheritFromSamples(sampled.skipped, files));
    targets.push({ bucket: location.bucket, prefix: location.prefix, files });
  }
  signal.throwIfAborted();

  return {
    apply: () => {
      const counts = applyCrawl(deps, crawler, settings, targets, Boolean(previousFolders));
      return { ...counts, crawledFolders: [...seenFolders], unclassified };
    },
  };
}

/** SampleSize: classify only the first N files of each leaf folder; the others take their folder's schema. */
function sampleObjects(
  objects: S3ObjectInfo[],
  sampleSize: number | undefined,
): { classify: S3ObjectInfo[]; skipped: S3ObjectInfo[] } {
  if (!sampleSize || sampleSize <= 0) return { classify: objects, skipped: [] };
  const perFolder = new Map<string, number>();
  const classify: S3ObjectInfo[] = [];
  const skipped: S3ObjectInfo[] = [];
  for (const o of objects) {
    const folder = folderOf(o);
    const n = perFolder.get(folder) ?? 0;
    perFolder.set(folder, n + 1);
    (n < sampleSize ? classify : skipped).push(o);
  }
  return { classify, skipped };
}

function inheritFromSamples(skipped: S3ObjectInfo[], classified: ClassifiedObject[]): ClassifiedObject[] {
  const byFolder = new Map<string, ClassifiedObject>();
  for (const c of classified) if (!byFolder.has(folderOf(c))) byFolder.set(folderOf(c), c);
  const out: ClassifiedObject[] = [];
  for (const o of skipped) {
    const sample = byFolder.get(folderOf(o));
    if (!sample) continue;
    const recordCount = sample.size > 0 ? Math.round((sample.recordCount * o.size) / sample.size) : 0;
    out.push({
      ...o,
      format: sample.format,
      compression: sample.compression,
      columns: sample.columns,
      recordCount,
    });
  }
  return out;
}

function applyCrawl(
  deps: CrawlDeps,
  crawler: CrawlerRecord,
  settings: CrawlerSettings,
  targets: { bucket: string; prefix: string; files: ClassifiedObject[] }[],
  incremental: boolean,
): CrawlCounts {
  const { catalog, logger } = deps;
  const db = crawler.DatabaseName ?? '';
  const counts: CrawlCounts = {
    tablesCreated: 0,
    tablesUpdated: 0,
    tablesDeleted: 0,
    partitionsCreated: 0,
    partitionsUpdated: 0,
    partitionsDeleted: 0,
  };
  const ours = () => catalog.listTables(db).filter((t) => t.Parameters.UPDATED_BY_CRAWLER === crawler.Name);
  const matched = new Set<string>();

  const partitionInput = (
    table: LayoutTable,
    partition: LayoutPartition,
    tableColumns: ColumnSchema[],
  ): PartitionInput => {
    const own = mergeAllColumns(
      partition.files.map((f) => f.columns),
      false,
    );
    const columns =
      settings.inheritFromTable || !own
        ? tableColumns
        : own.filter((c) => !table.partitionKeys.includes(c.name));
    const parameters = statsParameters(partition.files, table.format, table.compression, crawler.Name);
    return {
      Values: partition.values,
      StorageDescriptor: storageDescriptor(
        table.format,
        table.compression,
        s3Url(table.bucket, partition.prefix),
        columns,
        parameters,
      ),
      Parameters: parameters,
    };
  };

  const writePartitions = (
    record: TableRecord,
    layout: LayoutTable,
    tableColumns: ColumnSchema[],
    update: boolean,
  ) => {
    for (const partition of layout.partitions) {
      const input = partitionInput(layout, partition, tableColumns);
      const existing = catalog.findPartition(record, partition.values);
      if (!existing) {
        catalog.createPartition(record, input);
        counts.partitionsCreated++;
      } else if (
        update &&
        fingerprint([existing.StorageDescriptor, existing.Parameters]) !==
          fingerprint([input.StorageDescriptor, input.Parameters])
      ) {
        catalog.updatePartition(record, partition.values, input);
        counts.partitionsUpdated++;
      }
    }
  };

  const uniqueName = (base: string, location: string): string => {
    const existing = catalog.findTable(db, base);
    if (!existing) return base;
    return `${base}_${createHash('sha1').update(location).digest('hex').slice(0, 8)}`;
  };

  const tableInput = (
    name: string,
    layout: LayoutTable,
    columns: ColumnSchema[],
    previous?: TableRecord,
  ): TableInput => {
    const parameters = statsParameters(layout.files, layout.format, layout.compression, crawler.Name);
    const location = s3Url(layout.bucket, layout.prefix);
    const {
      Name: _n,
      DatabaseName: _d,
      CreateTime: _c,
      UpdateTime: _u,
      VersionId: _v,
      CatalogId: _cat,
      IsRegisteredWithLakeFormation: _l,
      ...kept
    } = previous ?? ({} as Partial<TableRecord>);
    return {
      ...kept,
      Name: name,
      Owner: 'owner',
      Retention: 0,
      StorageDescriptor: storageDescriptor(layout.format, layout.compression, location, columns, parameters),
      PartitionKeys: layout.partitionKeys.map((k) => ({ Name: k, Type: 'string' })),
      TableType: 'EXTERNAL_TABLE',
      Parameters: { ...(previous?.Parameters ?? {}), ...parameters },
    };
  };

  const writeTable = (layout: LayoutTable) => {
    const location = s3Url(layout.bucket, layout.prefix);
    const existing =
      ours().find((t) => normalizeLocation(t.StorageDescriptor?.Location) === location) ??
      catalog
        .listTables(db)
        .find(
          (t) =>
            t.Name === settings.tablePrefix + layout.name &&
            normalizeLocation(t.StorageDescriptor?.Location) === location,
        );
    if (!existing) {
      const name = uniqueName(settings.tablePrefix + layout.name, location);
      const record = catalog.createTable(db, tableInput(name, layout, layout.columns));
      counts.tablesCreated++;
      matched.add(record.Name);
      writePartitions(record, layout, layout.columns, true);
      logger.info(
        {
          crawler: crawler.Name,
          table: `${db}.${name}`,
          partitions: layout.partitions.length,
          files: layout.files.length,
        },
        'table created',
      );
      return;
    }
    matched.add(existing.Name);
    let record = existing;
    let columns = fromGlueColumns(existing.StorageDescriptor?.Columns);
    if (settings.updateInDatabase && !incremental) {
      // Keep the catalog's column order, widen types, append new columns; drop vanished ones unless MergeNewColumns.
      const merged = mergeColumns(columns, layout.columns, false) ?? layout.columns;
      const seen = new Set(layout.columns.map((c) => c.name));
      columns = settings.mergeNewColumns ? merged : merged.filter((c) => seen.has(c.name));
      const input = tableInput(existing.Name, layout, columns, existing);
      const before = fingerprint([existing.StorageDescriptor, existing.PartitionKeys, existing.Parameters]);
      const after = fingerprint([input.StorageDescriptor, input.PartitionKeys, input.Parameters]);
      if (before !== after) {
        record = catalog.updateTable(db, input);
        counts.tablesUpdated++;
        logger.info({ crawler: crawler.Name, table: `${db}.${existing.Name}` }, 'table updated');
      }
    } else if (
      fingerprint(toGlueColumns(layout.columns)) !== fingerprint(existing.StorageDescriptor?.Columns)
    ) {
      logger.info(
        { crawler: crawler.Name, table: `${db}.${existing.Name}` },
        'schema change left out (UpdateBehavior LOG / new folders only)',
      );
    }
    if (record.PartitionKeys.length !== layout.partitionKeys.length) {
      logger.warn(
        { crawler: crawler.Name, table: record.Name },
        'partition layout differs from the table; partitions not written',
      );
      return;
    }
    writePartitions(record, layout, columns, settings.updateInDatabase && !incremental);
    if (!incremental && settings.deleteBehavior === 'DELETE_FROM_DATABASE') {
      const present = new Set(layout.partitions.map((p) => JSON.stringify(p.values)));
      for (const p of catalog.listPartitions(record)) {
        if (!present.has(JSON.stringify(p.Values))) {
          catalog.deletePartition(record, p.Values);
          counts.partitionsDeleted++;
        }
      }
    }
  };

  for (const target of targets) {
    let files = target.files;
    if (incremental) {
      // New folders only: files under a table this crawler made are new partitions of it; the rest may form new tables.
      const rest: ClassifiedObject[] = [];
      const byTable = new Map<TableRecord, ClassifiedObject[]>();
      const tables = ours();
      for (const file of files) {
        const url = s3Url(file.bucket, file.key);
        const table = tables.find((t) => {
          const location = normalizeLocation(t.StorageDescriptor?.Location);
          return location !== '' && url.startsWith(location);
        });
        if (!table) rest.push(file);
        else byTable.set(table, [...(byTable.get(table) ?? []), file]);
      }
      for (const [table, tableFiles] of byTable) addNewPartitions(table, tableFiles);
      files = rest;
    }
    for (const layout of layoutTables(target.bucket, target.prefix, files, {
      combineCompatibleSchemas: settings.combineCompatibleSchemas,
    })) {
      writeTable(layout);
    }
  }

  function addNewPartitions(table: TableRecord, files: ClassifiedObject[]) {
    const location = normalizeLocation(table.StorageDescriptor?.Location);
    const bucket = files[0].bucket;
    const tablePrefix = location.replace(/^s3:\/\/[^/]+\//, '');
    const keys = table.PartitionKeys.map((k) => k.Name);
    const groups = new Map<string, LayoutPartition>();
    for (const file of files) {
      const at = partitionValuesOf(tablePrefix, file.key, keys);
      if (!at) {
        logger.warn(
          { crawler: crawler.Name, table: table.Name, key: file.key },
          'object does not fit the table partition layout; skipped',
        );
        continue;
      }
      const group = groups.get(at.prefix) ?? { values: at.values, prefix: at.prefix, files: [] };
      group.files.push(file);
      groups.set(at.prefix, group);
    }
    const format = (table.Parameters.classification as DataFormat) === 'json' ? 'json' : 'parquet';
    const layout: LayoutTable = {
      name: table.Name,
      bucket,
      prefix: tablePrefix,
      format,
      compression: table.Parameters.compressionType === 'gzip' ? 'gzip' : 'none',
      columns: fromGlueColumns(table.StorageDescriptor?.Columns),
      partitionKeys: keys,
      partitions: [...groups.values()],
      files,
    };
    matched.add(table.Name);
    writePartitions(table, layout, layout.columns, false);
  }

  if (!incremental) {
    const roots = targets.map((t) => s3Url(t.bucket, t.prefix));
    for (const table of ours()) {
      const location = normalizeLocation(table.StorageDescriptor?.Location);
      if (matched.has(table.Name) || !roots.some((root) => location.startsWith(root))) continue;
      if (settings.deleteBehavior === 'DELETE_FROM_DATABASE') {
        catalog.deleteTable(db, table.Name);
        counts.tablesDeleted++;
      } else if (
        settings.deleteBehavior === 'DEPRECATE_IN_DATABASE' &&
        !table.Parameters.DEPRECATED_BY_CRAWLER
      ) {
        const { Name, StorageDescriptor, PartitionKeys, TableType, Parameters } = table;
        catalog.updateTable(db, {
          Name,
          StorageDescriptor,
          PartitionKeys,
          TableType,
          Parameters: { ...Parameters, DEPRECATED_BY_CRAWLER: new Date().toISOString() },
        });
        counts.tablesUpdated++;
      }
      logger.info(
        { crawler: crawler.Name, table: table.Name, behavior: settings.deleteBehavior },
        'table data gone from S3',
      );
    }
  }
  return counts;
}
