/**
 * Which tables and partitions a set of classified objects forms, the way Glue's crawler decides:
 * - a folder whose files all share a format and a compatible schema, at the same depth, is one table; the
 *   folders between it and the files are its partitions (`key=value` → key, otherwise `partition_<n>`);
 * - a folder holding just one non-partition-like folder is looked through (the table is named after it);
 * - otherwise each child folder is examined on its own (and files lying directly in the folder form one
 *   unpartitioned table).
 * Without CombineCompatibleSchemas sibling folders must also be similar (≥ 70 % shared columns).
 *
 * Pure: no S3, no catalog. The crawl engine feeds it and writes its result.
 */
import { sanitizeTableName } from '../../support/glue-table-names';
import type { ClassifiedObject, DataFormat } from './classify';
import { type ColumnSchema, mergeAllColumns, schemaSimilarity } from './schema-merge';

export interface LayoutPartition {
  values: string[];
  /** Key prefix of the partition folder, ending in '/'. */
  prefix: string;
  files: ClassifiedObject[];
}

export interface LayoutTable {
  /** Sanitized folder name (no table prefix yet). */
  name: string;
  bucket: string;
  /** Key prefix of the table folder, '' or ending in '/'. */
  prefix: string;
  format: DataFormat;
  compression: 'none' | 'gzip';
  columns: ColumnSchema[];
  partitionKeys: string[];
  partitions: LayoutPartition[];
  files: ClassifiedObject[];
}

export interface LayoutOptions {
  combineCompatibleSchemas: boolean;
}

const SIMILARITY_THRESHOLD = 0.7;
const HIVE_FOLDER = /^([^=]+)=(.*)$/;

interface Folder {
  name: string;
  prefix: string;
  files: ClassifiedObject[];
  children: Map<string, Folder>;
}

function decodeHiveValue(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function buildTree(bucket: string, rootPrefix: string, files: ClassifiedObject[]): Folder {
  const rootName = rootPrefix.replace(/\/$/, '').split('/').pop() || bucket;
  const root: Folder = { name: rootName, prefix: rootPrefix, files: [], children: new Map() };
  for (const file of files) {
    const relative = file.key.slice(rootPrefix.length);
    const parts = relative.split('/');
    parts.pop();
    let folder = root;
    for (const part of parts) {
      let child = folder.children.get(part);
      if (!child) {
        child = { name: part, prefix: `${folder.prefix}${part}/`, files: [], children: new Map() };
        folder.children.set(part, child);
      }
      folder = child;
    }
    folder.files.push(file);
  }
  return root;
}

/** Files under a folder with their folder path relative to it. */
function filesUnder(folder: Folder, path: string[] = []): { file: ClassifiedObject; dirs: string[] }[] {
  const out = folder.files.map((file) => ({ file, dirs: path }));
  for (const child of folder.children.values()) out.push(...filesUnder(child, [...path, child.name]));
  return out;
}

function columnsOf(files: ClassifiedObject[], format: DataFormat): ColumnSchema[] | undefined {
  return mergeAllColumns(
    files.map((f) => f.columns),
    format === 'parquet',
  );
}

/** The single table this folder can be, or undefined when its files do not form one. */
function asSingleTable(folder: Folder, bucket: string, options: LayoutOptions): LayoutTable | undefined {
  const entries = filesUnder(folder);
  if (entries.length === 0) return undefined;
  const format = entries[0].file.format;
  if (entries.some((e) => e.file.format !== format)) return undefined;
  const depth = entries[0].dirs.length;
  if (entries.some((e) => e.dirs.length !== depth)) return undefined;
  const columns = columnsOf(
    entries.map((e) => e.file),
    format,
  );
  if (!columns) return undefined;
  if (!options.combineCompatibleSchemas && depth > 0) {
    for (const child of folder.children.values()) {
      const childColumns = columnsOf(
        filesUnder(child).map((e) => e.file),
        format,
      );
      if (!childColumns || schemaSimilarity(childColumns, columns) < SIMILARITY_THRESHOLD) return undefined;
    }
  }

  const partitionKeys: string[] = [];
  for (let level = 0; level < depth; level++) {
    const names = new Set(entries.map((e) => e.dirs[level]));
    const keys = new Set([...names].map((n) => HIVE_FOLDER.exec(n)?.[1]?.toLowerCase()));
    const [only] = keys;
    partitionKeys.push(keys.size === 1 && only !== undefined ? only : `partition_${level}`);
  }
  const dataColumns = columns.filter((c) => !partitionKeys.includes(c.name));

  const partitions = new Map<string, LayoutPartition>();
  for (const { file, dirs } of entries) {
    const prefix = `${folder.prefix}${dirs.map((d) => `${d}/`).join('')}`;
    let partition = partitions.get(prefix);
    if (!partition) {
      const values = dirs.map((d, level) => {
        const hive = HIVE_FOLDER.exec(d);
        return hive && partitionKeys[level] === hive[1].toLowerCase() ? decodeHiveValue(hive[2]) : d;
      });
      partitions.set(prefix, (partition = { values, prefix, files: [] }));
    }
    partition.files.push(file);
  }
  const files = entries.map((e) => e.file);
  return {
    name: sanitizeTableName(folder.name),
    bucket,
    prefix: folder.prefix,
    format,
    compression: files.some((f) => f.compression === 'gzip') ? 'gzip' : 'none',
    columns: dataColumns,
    partitionKeys,
    partitions: depth > 0 ? [...partitions.values()] : [],
    files,
  };
}

function layoutFolder(folder: Folder, bucket: string, options: LayoutOptions): LayoutTable[] {
  if (folder.files.length === 0 && folder.children.size === 1) {
    const [only] = folder.children.values();
    if (!HIVE_FOLDER.test(only.name)) return layoutFolder(only, bucket, options);
  }
  const single = asSingleTable(folder, bucket, options);
  if (single) return [single];
  const tables: LayoutTable[] = [];
  for (const child of folder.children.values()) tables.push(...layoutFolder(child, bucket, options));
  if (folder.files.length > 0) {
    const direct = asSingleTable({ ...folder, children: new Map() }, bucket, options);
    if (direct) tables.push(direct);
    else {
      // Files of different formats side by side: one table per format, as far as they agree.
      for (const format of ['parquet', 'json', 'csv'] as const) {
        const files = folder.files.filter((f) => f.format === format);
        if (files.length === 0) continue;
        const table = asSingleTable({ ...folder, files, children: new Map() }, bucket, {
          combineCompatibleSchemas: true,
        });
        if (table) tables.push({ ...table, name: `${table.name}_${format}` });
      }
    }
  }
  return tables;
}

/**
 * Lays out the tables of one S3 target.
 *
 * @example
 *   layoutTables('lake', 'cdc/', files, { combineCompatibleSchemas: true })
 *   // [{ name: 'orders_cdc', prefix: 'cdc/orders_cdc/', partitionKeys: ['dt', 'hour'], ... }]
 */
export function layoutTables(
  bucket: string,
  rootPrefix: string,
  files: ClassifiedObject[],
  options: LayoutOptions,
): LayoutTable[] {
  if (files.length === 0) return [];
  return layoutFolder(buildTree(bucket, rootPrefix, files), bucket, options);
}

/** Partition values of a key below a table folder, given the table's number of partition keys. */
export function partitionValuesOf(
  tablePrefix: string,
  key: string,
  partitionKeys: string[],
): { values: string[]; prefix: string } | undefined {
  if (!key.startsWith(tablePrefix)) return undefined;
  const dirs = key.slice(tablePrefix.length).split('/');
  dirs.pop();
  if (dirs.length !== partitionKeys.length) return undefined;
  const values = dirs.map((d, level) => {
    const hive = HIVE_FOLDER.exec(d);
    return hive && hive[1].toLowerCase() === partitionKeys[level].toLowerCase()
      ? decodeHiveValue(hive[2])
      : d;
  });
  return { values, prefix: `${tablePrefix}${dirs.map((d) => `${d}/`).join('')}` };
}
