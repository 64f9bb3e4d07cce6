/**
 * Built-in classifiers of the crawler: what an S3 object holds and its schema.
 * - Parquet: the footer only (a ranged GET of the file's tail), schema from the footer, row count exact;
 * - JSON lines (plain or gzip, detected by content): records parsed and their schema inferred and merged;
 * - CSV and other delimited text (plain or gzip), as Glue's built-in CSV classifier sees it (classify-csv.ts).
 * Anything else is unclassified and left out of the catalog, as AWS leaves files it cannot read.
 */
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import { parquetMetadataAsync, parquetSchema, type SchemaElement, type SchemaTree } from 'hyparquet';
import { getObjectBytes, type S3ObjectInfo } from '../s3-objects';
import { type GlueType, primitive } from './glue-types';
import { classifyCsvText, type CsvSettings } from './classify-csv';
import { type ColumnSchema, inferJsonColumns } from './schema-merge';

export type DataFormat = 'parquet' | 'json' | 'csv';

export interface ClassifiedObject extends S3ObjectInfo {
  format: DataFormat;
  /** The table's compressionType parameter. */
  compression: 'none' | 'gzip';
  columns: ColumnSchema[];
  recordCount: number;
  /** How a CSV object is laid out (delimiter, header, quoting). */
  csv?: CsvSettings;
}

export type Classification =
  { ok: true; object: ClassifiedObject } | { ok: false; key: string; reason: string };

const JSON_WHOLE_OBJECT_LIMIT = 8 * 1024 * 1024;
const JSON_SAMPLE_BYTES = 1024 * 1024;
const JSON_MAX_RECORDS = 20_000;
const PARQUET_TAIL_BYTES = 64 * 1024;

const PARQUET_NAME = /\.(parquet|parq|pqt)$/i;
const JSON_NAME = /\.(json|jsonl|ndjson)(\.gz)?$/i;

/** Classifies one object; never throws for bad content (only for S3 errors and aborts). */
export async function classifyObject(
  s3: S3Client,
  object: S3ObjectInfo,
  signal?: AbortSignal,
): Promise<Classification> {
  if (!JSON_NAME.test(object.key)) {
    const parquet = await classifyParquet(s3, object, signal);
    if (parquet.ok || PARQUET_NAME.test(object.key)) return parquet;
  }
  return classifyJson(s3, object, signal);
}

async function classifyParquet(
  s3: S3Client,
  object: S3ObjectInfo,
  signal?: AbortSignal,
): Promise<Classification> {
  if (object.size < 12) return { ok: false, key: object.key, reason: 'too small to be Parquet' };
  const buffer = {
    byteLength: object.size,
    slice: async (start: number, end?: number): Promise<ArrayBuffer> => {
      const bytes = await getObjectBytes(
        s3,
        object.bucket,
        object.key,
        { start, end: end ?? object.size },
        signal,
      );
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
  let metadata;
  try {
    metadata = await parquetMetadataAsync(buffer, {
      initialFetchSize: Math.min(object.size, PARQUET_TAIL_BYTES),
    });
  } catch (error) {
    if (signal?.aborted || (error as { $metadata?: unknown }).$metadata) throw error;
    return { ok: false, key: object.key, reason: `not Parquet: ${(error as Error).message}` };
  }
  const tree = parquetSchema(metadata);
  const columns = tree.children.map((child) => ({
    name: child.element.name.toLowerCase(),
    sourceName: child.element.name,
    type: parquetNodeType(child),
  }));
  return {
    ok: true,
    object: {
      ...object,
      format: 'parquet',
      compression: 'none',
      columns,
      recordCount: Number(metadata.num_rows),
    },
  };
}

/** Glue type of a Parquet schema node (groups: LIST → array, MAP → map, others → struct). */
export function parquetNodeType(node: SchemaTree): GlueType {
  const el = node.element;
  const logical = el.logical_type?.type;
  let type: GlueType;
  if (node.children.length === 0) {
    type = parquetLeafType(el);
  } else if (logical === 'LIST' || el.converted_type === 'LIST') {
    const repeated = node.children[0];
    let element: GlueType;
    if (repeated.children.length === 0) element = parquetLeafType(repeated.element);
    else if (repeated.children.length === 1) element = parquetNodeType(repeated.children[0]);
    else element = structOf(repeated);
    return { kind: 'array', element };
  } else if (logical === 'MAP' || el.converted_type === 'MAP' || el.converted_type === 'MAP_KEY_VALUE') {
    const kv = node.children[0];
    const [key, value] = kv.children;
    return {
      kind: 'map',
      key: key ? parquetNodeType(key) : primitive('string'),
      value: value ? parquetNodeType(value) : primitive('string'),
    };
  } else {
    type = structOf(node);
  }
  return el.repetition_type === 'REPEATED' ? { kind: 'array', element: type } : type;
}

function structOf(node: SchemaTree): GlueType {
  return {
    kind: 'struct',
    fields: node.children.map((c) => ({ name: c.element.name, type: parquetNodeType(c) })),
  };
}

export function parquetLeafType(el: SchemaElement): GlueType {
  const logical = el.logical_type;
  const converted = el.converted_type;
  if (logical?.type === 'DECIMAL')
    return { kind: 'decimal', precision: logical.precision, scale: logical.scale };
  if (converted === 'DECIMAL')
    return { kind: 'decimal', precision: el.precision ?? 38, scale: el.scale ?? 0 };
  if (
    logical?.type === 'STRING' ||
    logical?.type === 'ENUM' ||
    logical?.type === 'JSON' ||
    logical?.type === 'UUID'
  )
    return primitive('string');
  if (converted === 'UTF8' || converted === 'ENUM' || converted === 'JSON') return primitive('string');
  if (logical?.type === 'DATE' || converted === 'DATE') return primitive('date');
  if (logical?.type === 'TIMESTAMP' || converted === 'TIMESTAMP_MILLIS' || converted === 'TIMESTAMP_MICROS')
    return primitive('timestamp');
  if (logical?.type === 'TIME' || converted === 'TIME_MILLIS' || converted === 'TIME_MICROS')
    return primitive('string');
  if (logical?.type === 'INTEGER') {
    const { bitWidth, isSigned } = logical;
    if (bitWidth === 8) return primitive(isSigned ? 'tinyint' : 'smallint');
    if (bitWidth === 16) return primitive(isSigned ? 'smallint' : 'int');
    if (bitWidth === 32) return primitive(isSigned ? 'int' : 'bigint');
    return primitive('bigint');
  }
  switch (converted) {
    case 'INT_8':
      return primitive('tinyint');
    case 'INT_16':
    case 'UINT_8':
      return primitive('smallint');
    case 'INT_32':
    case 'UINT_16':
      return primitive('int');
    case 'INT_64':
    case 'UINT_32':
    case 'UINT_64':
      return primitive('bigint');
    default:
      break;
  }
  switch (el.type) {
    case 'BOOLEAN':
      return primitive('boolean');
    case 'INT32':
      return primitive('int');
    case 'INT64':
      return primitive('bigint');
    case 'INT96':
      return primitive('timestamp');
    case 'FLOAT':
      return primitive('float');
    case 'DOUBLE':
      return primitive('double');
    default:
      return primitive('binary');
  }
}

async function classifyJson(
  s3: S3Client,
  object: S3ObjectInfo,
  signal?: AbortSignal,
): Promise<Classification> {
  const whole = object.size <= JSON_WHOLE_OBJECT_LIMIT;
  const raw = await getObjectBytes(
    s3,
    object.bucket,
    object.key,
    whole ? undefined : { start: 0, end: JSON_SAMPLE_BYTES },
    signal,
  );
  const gzip = raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b;
  let text: string;
  try {
    // A sampled gzip stream ends mid-block: flush what decompressed instead of failing.
    text = gzip
      ? gunzipSync(raw, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).toString('utf8')
      : raw.toString('utf8');
  } catch (error) {
    return { ok: false, key: object.key, reason: `unreadable gzip: ${(error as Error).message}` };
  }
  const complete = whole;
  const lines = text.split('\n');
  if (!complete) lines.pop(); // the last line of a sample may be cut
  const records: Record<string, unknown>[] = [];
  let lineCount = 0;
  let bad = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    lineCount++;
    if (records.length >= JSON_MAX_RECORDS) continue;
    try {
      const value = JSON.parse(line) as unknown;
      if (typeof value === 'object' && value !== null && !Array.isArray(value))
        records.push(value as Record<string, unknown>);
      else bad++;
    } catch {
      bad++;
    }
  }
  if (records.length === 0 || bad > records.length) {
    // Maybe one JSON document (an object or an array of objects) spread over lines.
    const document = parseWholeDocument(text);
    if (!document) return classifyCsv(object, text, complete, raw.length, gzip);
    return {
      ok: true,
      object: {
        ...object,
        format: 'json',
        compression: gzip ? 'gzip' : 'none',
        columns: inferJsonColumns(document),
        recordCount: document.length,
      },
    };
  }
  const recordCount = complete ? lineCount : Math.round((lineCount * object.size) / Math.max(1, raw.length));
  return {
    ok: true,
    object: {
      ...object,
      format: 'json',
      compression: gzip ? 'gzip' : 'none',
      columns: inferJsonColumns(records),
      recordCount,
    },
  };
}

function parseWholeDocument(text: string): Record<string, unknown>[] | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    if (
      Array.isArray(value) &&
      value.length > 0 &&
      value.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v))
    ) {
      return value as Record<string, unknown>[];
    }
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return [value as Record<string, unknown>];
  } catch {
    // not one document either
  }
  return undefined;
}

function classifyCsv(
  object: S3ObjectInfo,
  text: string,
  complete: boolean,
  sampledBytes: number,
  gzip: boolean,
): Classification {
  const csv = classifyCsvText(text, complete);
  if (!csv) return { ok: false, key: object.key, reason: 'neither Parquet, JSON nor CSV' };
  const lines = text.split('\n').filter((line) => line.trim() !== '').length - (csv.settings.header ? 1 : 0);
  return {
    ok: true,
    object: {
      ...object,
      format: 'csv',
      compression: gzip ? 'gzip' : 'none',
      columns: csv.columns,
      recordCount: complete ? lines : Math.round((lines * object.size) / Math.max(1, sampledBytes)),
      csv: csv.settings,
    },
  };
}
