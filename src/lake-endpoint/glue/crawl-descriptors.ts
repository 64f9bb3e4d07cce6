/**
 * What a crawl writes for each table and partition, the way AWS's crawler writes it: the StorageDescriptor
 * (columns, location, Hive input/output formats, SerDe and its parameters) and the statistics parameters
 * (`classification`, `recordCount`, `objectCount`, `UPDATED_BY_CRAWLER`, …).
 */
import type { GlueColumn, StorageDescriptor, StringMap, TableRecord } from '../lake-state';
import { s3Url } from '../s3-objects';
import type { PartitionInput, TableInput } from './catalog';
import type { ClassifiedObject, DataFormat } from './classify';
import type { CsvSettings } from './classify-csv';
import { formatGlueType, parseGlueType } from './glue-types';
import { type ColumnSchema, mergeAllColumns } from './schema-merge';
import type { LayoutPartition, LayoutTable } from './table-layout';

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
  // OpenCSVSerde instead when fields are quoted (see csvSerde).
  csv: {
    input: 'org.apache.hadoop.mapred.TextInputFormat',
    output: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
    serde: 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe',
  },
};

const OPEN_CSV_SERDE = 'org.apache.hadoop.hive.serde2.OpenCSVSerde';

/** The CSV layout of a table or partition: its first file's (a folder's files share one to form a table). */
const csvOf = (files: ClassifiedObject[]): CsvSettings | undefined => files.find((f) => f.csv)?.csv;

/** The SerDe Glue's crawler writes for CSV: OpenCSVSerde for quoted fields, LazySimpleSerDe otherwise. */
function csvSerde(csv: CsvSettings | undefined): { SerializationLibrary: string; Parameters: StringMap } {
  const delimiter = csv?.delimiter ?? ',';
  return csv?.quoted
    ? { SerializationLibrary: OPEN_CSV_SERDE, Parameters: { separatorChar: delimiter, quoteChar: '"' } }
    : { SerializationLibrary: FORMATS.csv.serde, Parameters: { 'field.delim': delimiter } };
}

function statsParameters(
  files: ClassifiedObject[],
  format: DataFormat,
  compression: string,
  crawlerName: string,
): StringMap {
  const records = files.reduce((n, f) => n + f.recordCount, 0);
  const bytes = files.reduce((n, f) => n + f.size, 0);
  const csv = format === 'csv' ? csvOf(files) : undefined;
  return {
    ...(csv
      ? {
          delimiter: csv.delimiter,
          areColumnsQuoted: String(csv.quoted),
          columnsOrdered: 'true',
          ...(csv.header ? { 'skip.header.line.count': '1' } : {}),
        }
      : {}),
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

export function toGlueColumns(columns: ColumnSchema[]): GlueColumn[] {
  return columns.map((c) => ({ Name: c.name, Type: formatGlueType(c.type) }));
}

/** The catalog's columns as crawl schemas (a type the crawler cannot read counts as `string`). */
export function fromGlueColumns(columns: GlueColumn[] | undefined): ColumnSchema[] {
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
  files: ClassifiedObject[],
): StorageDescriptor {
  const f = FORMATS[format];
  return {
    Columns: toGlueColumns(columns),
    Location: location,
    InputFormat: f.input,
    OutputFormat: f.output,
    Compressed: compression !== 'none',
    NumberOfBuckets: -1,
    SerdeInfo:
      format === 'csv'
        ? csvSerde(csvOf(files))
        : {
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

/**
 * A table as the crawler writes it; an existing table (`previous`) keeps the fields the crawler does not own
 * and its parameters, under the crawl's.
 */
export function tableInput(
  crawlerName: string,
  name: string,
  layout: LayoutTable,
  columns: ColumnSchema[],
  previous?: TableRecord,
): TableInput {
  const parameters = statsParameters(layout.files, layout.format, layout.compression, crawlerName);
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
    StorageDescriptor: storageDescriptor(
      layout.format,
      layout.compression,
      location,
      columns,
      parameters,
      layout.files,
    ),
    PartitionKeys: layout.partitionKeys.map((k) => ({ Name: k, Type: 'string' })),
    TableType: 'EXTERNAL_TABLE',
    Parameters: { ...(previous?.Parameters ?? {}), ...parameters },
  };
}

/**
 * A partition as the crawler writes it: its own columns (partition keys left out), or the table's with
 * InheritFromTable or when its files have no common schema.
 */
export function partitionInput(
  crawlerName: string,
  inheritFromTable: boolean,
  table: LayoutTable,
  partition: LayoutPartition,
  tableColumns: ColumnSchema[],
): PartitionInput {
  const own = mergeAllColumns(
    partition.files.map((f) => f.columns),
    false,
  );
  const columns =
    inheritFromTable || !own ? tableColumns : own.filter((c) => !table.partitionKeys.includes(c.name));
  const parameters = statsParameters(partition.files, table.format, table.compression, crawlerName);
  return {
    Values: partition.values,
    StorageDescriptor: storageDescriptor(
      table.format,
      table.compression,
      s3Url(table.bucket, partition.prefix),
      columns,
      parameters,
      partition.files,
    ),
    Parameters: parameters,
  };
}
