/**
 * The CDC table in the Glue catalog, written by the pipeline rather than discovered: provisioning creates it with
 * its columns from the lake schema (src/lake-format/lake-schema.ts), the S3 sink registers each hour's partition
 * as it writes the hour's first object, and compaction repoints a partition to its compacted version. The crawler
 * (UpdateBehavior/DeleteBehavior LOG, see glue.ts) never changes what is written here.
 *
 * Schema evolution: a new event-schema version's columns are appended to the table by provisioning (never moved,
 * never dropped), and every partition registered or moved here takes the table's columns as they are in the catalog
 * then (the crawler's InheritFromTable, done by the writer). Partitions registered before keep their shorter column
 * list and their files lack the new columns; Athena reads them as NULL, by the rule for Parquet in "Update tables
 * with partitions" (https://docs.aws.amazon.com/athena/latest/ug/updates-and-partitions.html): "For Parquet and ORC
 * data storage types, Athena relies on the column names and uses them for its column name-based schema
 * verification. This eliminates HIVE_PARTITION_SCHEMA_MISMATCH errors for tables with partitions in Parquet and
 * ORC." For JSON, whose check goes by index, appending keeps every old partition's columns a prefix of the table's.
 */
import {
  AlreadyExistsException,
  BatchCreatePartitionCommand,
  CreateTableCommand,
  EntityNotFoundException,
  GetPartitionCommand,
  GetTableCommand,
  UpdatePartitionCommand,
  UpdateTableCommand,
  type Column,
  type GlueClient,
  type StorageDescriptor,
  type Table,
  type TableInput,
} from '@aws-sdk/client-glue';
import { CDC_TABLE_FOLDER, type Config } from '../config';
import type { EnsureOutcome } from '../contract/outcome';
import { cdcTableRoot } from '../lake-format/cdc-layout';
import { keyPrefixOf, partitionValues, s3FolderUrl } from '../lake-format/compaction-layout';
import { CDC_LAKE_COLUMNS, CDC_PARTITION_KEYS, type LakeColumnType } from '../lake-format/lake-schema';

const GLUE_TYPES: Record<LakeColumnType, string> = {
  string: 'string',
  bigint: 'bigint',
  double: 'double',
  timestamp: 'timestamp',
};

/** BatchCreatePartition takes at most 100 partitions a call. */
const MAX_BATCH = 100;

function isJsonLines(config: Pick<Config, 'lake'>): boolean {
  return config.lake.format === 'jsonl';
}

/** The CDC table's columns as the lake schema defines them, in order. */
export const cdcCatalogColumns = (): Column[] =>
  CDC_LAKE_COLUMNS.map((c) => ({ Name: c.name, Type: GLUE_TYPES[c.type] }));

/** The table's storage descriptor at `location` (partitions copy the table's, see partitionDescriptor). */
export function cdcStorageDescriptor(
  config: Pick<Config, 'lake' | 's3Sink'>,
  location: string,
  columns: Column[] = cdcCatalogColumns(),
): StorageDescriptor {
  const json = isJsonLines(config);
  return {
    Columns: columns,
    Location: location,
    InputFormat: json
      ? 'org.apache.hadoop.mapred.TextInputFormat'
      : 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
    OutputFormat: json
      ? 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
      : 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
    Compressed: json && config.s3Sink.jsonlGzip,
    NumberOfBuckets: -1,
    SerdeInfo: json
      ? {
          SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
          Parameters: { paths: columns.map((c) => c.Name).join(',') },
        }
      : {
          SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
          Parameters: { 'serialization.format': '1' },
        },
    StoredAsSubDirectories: false,
  };
}

function cdcTableParameters(config: Pick<Config, 'lake' | 's3Sink'>): Record<string, string> {
  const json = isJsonLines(config);
  return {
    classification: json ? 'json' : 'parquet',
    compressionType: json && config.s3Sink.jsonlGzip ? 'gzip' : 'none',
    typeOfData: 'file',
  };
}

export function cdcTableInput(config: Config): TableInput {
  return {
    Name: CDC_TABLE_FOLDER,
    Description: 'Every change of the orders table (DynamoDB Streams), written by the S3 sink',
    TableType: 'EXTERNAL_TABLE',
    StorageDescriptor: cdcStorageDescriptor(config, s3FolderUrl(config.lake.bucket, cdcTableRoot(config))),
    PartitionKeys: CDC_PARTITION_KEYS.map((Name) => ({ Name, Type: 'string' })),
    Parameters: cdcTableParameters(config),
  };
}

async function getCdcTable(glue: GlueClient, config: Config): Promise<Table> {
  const response = await glue.send(
    new GetTableCommand({ DatabaseName: config.glue.database, Name: CDC_TABLE_FOLDER }),
  );
  return response.Table!;
}

export class CdcTableSchemaError extends Error {
  override readonly name = 'CdcTableSchemaError';
  /** The catalog holds a column of another type: provisioning again does not change that. */
  readonly retriable = false;
}

/**
 * The lake columns an existing table lacks. A column it has with another type is an error rather than a change:
 * Athena reads each old partition with its own declared types, so retyping a column in place is not safe.
 */
function missingColumns(table: Table, name: string): Column[] {
  const existing = new Map((table.StorageDescriptor?.Columns ?? []).map((c) => [c.Name!.toLowerCase(), c]));
  const conflicts = cdcCatalogColumns().filter((c) => {
    const type = existing.get(c.Name!)?.Type;
    return type !== undefined && type.toLowerCase() !== c.Type;
  });
  if (conflicts.length > 0) {
    throw new CdcTableSchemaError(
      `${name} has ${conflicts.map((c) => `${c.Name} as ${existing.get(c.Name!)?.Type} (the lake writes ${c.Type})`).join(', ')}: change or recreate the table by hand`,
    );
  }
  return cdcCatalogColumns().filter((c) => !existing.has(c.Name!));
}

/** The table with `added` appended to its columns, everything else as the catalog holds it. */
function withColumns(table: Table, added: Column[]): TableInput {
  const descriptor = table.StorageDescriptor ?? {};
  const columns = [...(descriptor.Columns ?? []), ...added];
  const serde = descriptor.SerdeInfo;
  const paths = serde?.Parameters?.paths;
  return {
    Name: table.Name,
    Description: table.Description,
    Owner: table.Owner,
    Retention: table.Retention,
    TableType: table.TableType,
    PartitionKeys: table.PartitionKeys,
    Parameters: table.Parameters,
    StorageDescriptor: {
      ...descriptor,
      Columns: columns,
      // The JSON SerDe reads only the keys `paths` names.
      ...(paths !== undefined && serde
        ? {
            SerdeInfo: {
              ...serde,
              Parameters: { ...serde.Parameters, paths: columns.map((c) => c.Name).join(',') },
            },
          }
        : {}),
    },
  };
}

/**
 * Creates the CDC table, or appends the lake columns it lacks (a new event-schema version's) at its end; nothing
 * else of an existing table changes (one the crawler made before this version is kept as it is otherwise).
 *
 * @example
 *   await ensureCdcTable(aws.glue, config); // { kind: 'glue-table', name: 'orders_lake.orders_cdc', action: 'created' }
 */
export async function ensureCdcTable(glue: GlueClient, config: Config): Promise<EnsureOutcome> {
  const name = `${config.glue.database}.${CDC_TABLE_FOLDER}`;
  let table: Table | undefined;
  try {
    table = await getCdcTable(glue, config);
  } catch (error) {
    if (!(error instanceof EntityNotFoundException)) throw error;
  }
  if (table) {
    const added = missingColumns(table, name);
    if (added.length === 0) return { kind: 'glue-table', name, action: 'exists' };
    await glue.send(
      new UpdateTableCommand({ DatabaseName: config.glue.database, TableInput: withColumns(table, added) }),
    );
    return {
      kind: 'glue-table',
      name,
      action: 'updated',
      detail: `added columns ${added.map((c) => c.Name).join(', ')}`,
    };
  }
  try {
    await glue.send(
      new CreateTableCommand({ DatabaseName: config.glue.database, TableInput: cdcTableInput(config) }),
    );
  } catch (error) {
    if (!(error instanceof AlreadyExistsException)) throw error;
  }
  return { kind: 'glue-table', name, action: 'created' };
}

/**
 * A partition's storage descriptor: the table's as the catalog holds it now (columns, formats, SerDe), at its own
 * location. Inheriting rather than writing the code's column list keeps every partition's schema the table's, even
 * while a sink of a newer version runs before provisioning has added its columns.
 */
function partitionDescriptor(table: Table, location: string): StorageDescriptor {
  return { ...table.StorageDescriptor, Location: location };
}

export class PartitionRegistrationError extends Error {
  override readonly name = 'PartitionRegistrationError';
  readonly retriable = true;
}

/**
 * Registers the partitions (`dt=…/hour=…` paths) at their folders; one that exists already counts as registered.
 *
 * @example
 *   await registerCdcPartitions(glue, config, [{ partitionPath: 'dt=2024-05-01/hour=09', location: 's3://…/hour=09/' }]);
 */
export async function registerCdcPartitions(
  glue: GlueClient,
  config: Config,
  partitions: { partitionPath: string; location: string }[],
): Promise<void> {
  if (partitions.length === 0) return;
  const table = await getCdcTable(glue, config);
  for (let i = 0; i < partitions.length; i += MAX_BATCH) {
    const batch = partitions.slice(i, i + MAX_BATCH);
    const response = await glue.send(
      new BatchCreatePartitionCommand({
        DatabaseName: config.glue.database,
        TableName: CDC_TABLE_FOLDER,
        PartitionInputList: batch.map(({ partitionPath, location }) => ({
          Values: partitionValues(partitionPath),
          StorageDescriptor: partitionDescriptor(table, location),
          Parameters: cdcTableParameters(config),
        })),
      }),
    );
    const failed = (response.Errors ?? []).filter(
      (e) => e.ErrorDetail?.ErrorCode !== AlreadyExistsException.name,
    );
    if (failed.length > 0) {
      const first = failed[0];
      throw new PartitionRegistrationError(
        `BatchCreatePartition of ${config.glue.database}.${CDC_TABLE_FOLDER} failed for ${failed.length} partition(s), e.g. ${(first.PartitionValues ?? []).join('/')}: ${first.ErrorDetail?.ErrorCode}: ${first.ErrorDetail?.ErrorMessage}`,
      );
    }
  }
}

/** The partition's location, or undefined when it is not registered. */
export async function cdcPartitionLocation(
  glue: GlueClient,
  config: Config,
  partitionPath: string,
): Promise<string | undefined> {
  try {
    const response = await glue.send(
      new GetPartitionCommand({
        DatabaseName: config.glue.database,
        TableName: CDC_TABLE_FOLDER,
        PartitionValues: partitionValues(partitionPath),
      }),
    );
    return response.Partition?.StorageDescriptor?.Location;
  } catch (error) {
    if (error instanceof EntityNotFoundException) return undefined;
    throw error;
  }
}

/**
 * The key prefix readers of the hour read now (its partition's location in the lake bucket), or undefined when
 * the hour is not registered: a lake reader's `currentFolder` (lake-reader.ts).
 */
export async function cdcPartitionFolder(
  glue: GlueClient,
  config: Config,
  partitionPath: string,
): Promise<string | undefined> {
  return keyPrefixOf(config.lake.bucket, await cdcPartitionLocation(glue, config, partitionPath));
}

/** Points the partition at `location`: what readers switch on, in one call. */
export async function moveCdcPartition(
  glue: GlueClient,
  config: Config,
  partitionPath: string,
  location: string,
): Promise<void> {
  const values = partitionValues(partitionPath);
  const table = await getCdcTable(glue, config);
  await glue.send(
    new UpdatePartitionCommand({
      DatabaseName: config.glue.database,
      TableName: CDC_TABLE_FOLDER,
      PartitionValueList: values,
      PartitionInput: {
        Values: values,
        StorageDescriptor: partitionDescriptor(table, location),
        Parameters: cdcTableParameters(config),
      },
    }),
  );
}
