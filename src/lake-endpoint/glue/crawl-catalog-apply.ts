/**
 * The second phase of a crawl, synchronous so a stop never leaves half a crawl in the catalog: create or update
 * the tables and partitions the scan laid out, under the crawler's SchemaChangePolicy, RecrawlPolicy and
 * Configuration, and deal with the tables whose data is gone from S3.
 */
import { createHash } from 'node:crypto';
import type { CrawlerRecord, TableRecord } from '../lake-state';
import type { Logger } from '../logger';
import { s3Url } from '../s3-objects';
import type { GlueCatalog } from './catalog';
import type { ClassifiedObject, DataFormat } from './classify';
import { fromGlueColumns, partitionInput, tableInput, toGlueColumns } from './crawl-descriptors';
import type { ScannedTarget } from './crawl-scan';
import type { CrawlerSettings } from './crawler-settings';
import { type ColumnSchema, mergeColumns } from './schema-merge';
import { type LayoutPartition, type LayoutTable, layoutTables, partitionValuesOf } from './table-layout';

export interface CrawlCounts {
  tablesCreated: number;
  tablesUpdated: number;
  tablesDeleted: number;
  partitionsCreated: number;
  partitionsUpdated: number;
  partitionsDeleted: number;
}

export interface CatalogApplyDeps {
  catalog: GlueCatalog;
  logger: Logger;
}

const normalizeLocation = (location: string | undefined) =>
  location ? (location.endsWith('/') ? location : `${location}/`) : '';

/** What the catalog compares to decide whether a crawl changed a table/partition (timestamps aside). */
const fingerprint = (value: unknown) => JSON.stringify(value);

/**
 * @example
 *   const counts = applyCrawl({ catalog, logger }, crawler, crawlerSettings(crawler), scan.targets, false);
 */
export function applyCrawl(
  deps: CatalogApplyDeps,
  crawler: CrawlerRecord,
  settings: CrawlerSettings,
  targets: ScannedTarget[],
  /** CRAWL_NEW_FOLDERS_ONLY after a first crawl: only new folders were scanned. */
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

  const writePartitions = (
    record: TableRecord,
    layout: LayoutTable,
    tableColumns: ColumnSchema[],
    update: boolean,
  ) => {
    for (const partition of layout.partitions) {
      const input = partitionInput(crawler.Name, settings.inheritFromTable, layout, partition, tableColumns);
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
      const record = catalog.createTable(db, tableInput(crawler.Name, name, layout, layout.columns));
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
      const input = tableInput(crawler.Name, existing.Name, layout, columns, existing);
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

  /** New folders only: files under a table this crawler made become new partitions of it, as laid out there. */
  const addNewPartitions = (table: TableRecord, files: ClassifiedObject[]) => {
    const location = normalizeLocation(table.StorageDescriptor?.Location);
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
    const classification = table.Parameters.classification;
    const format: DataFormat =
      classification === 'json' || classification === 'csv' ? classification : 'parquet';
    const layout: LayoutTable = {
      name: table.Name,
      bucket: files[0].bucket,
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
  };

  for (const target of targets) {
    let files = target.files;
    if (incremental) {
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
      // The rest may form new tables.
      files = rest;
    }
    for (const layout of layoutTables(target.bucket, target.prefix, files, {
      combineCompatibleSchemas: settings.combineCompatibleSchemas,
    })) {
      writeTable(layout);
    }
  }

  if (!incremental) {
    const roots = targets.map((t) => s3Url(t.bucket, t.prefix));
    const vanished = ours().filter(
      (table) =>
        !matched.has(table.Name) &&
        roots.some((root) => normalizeLocation(table.StorageDescriptor?.Location).startsWith(root)),
    );
    retireTables(deps, crawler, settings, vanished, counts);
  }
  return counts;
}

/** Tables this crawler made whose data is gone from S3: deleted, deprecated or only logged (DeleteBehavior). */
function retireTables(
  { catalog, logger }: CatalogApplyDeps,
  crawler: CrawlerRecord,
  settings: CrawlerSettings,
  tables: TableRecord[],
  counts: CrawlCounts,
): void {
  const db = crawler.DatabaseName ?? '';
  for (const table of tables) {
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
