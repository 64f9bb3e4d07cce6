/**
 * The CDC table in the Glue catalog, written by the pipeline rather than discovered: provisioning creates it with
 * its columns from the lake schema (src/lake-format/lake-schema.ts), the S3 sink registers each hour's partition
 * as it writes the hour's first object, and compaction repoints a partition to its compacted version. The crawler
 * (UpdateBehavior/DeleteBehavior LOG, see glue.ts) never changes what is written here.
 */
import {
  AlreadyExistsException,
  BatchCreatePartitionCommand,
  CreateTableCommand,
  EntityNotFoundException,
  GetPartitionCommand,
  GetTableCommand,
  UpdatePartitionCommand,
  type GlueClient,
  type StorageDescriptor,
  type TableInput,
} from '@aws-sdk/client-glue';
import { CDC_TABLE_FOLDER, type Config } from '../config';
import type { EnsureOutcome } from '../contract/outcome';
import { cdcTableRoot } from '../lake-format/cdc-layout';
import { partitionValues, s3FolderUrl } from '../lake-format/compaction-layout';
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

/** The table's (and every partition's) storage descriptor at `location`, as the crawler would write it. */
export function cdcStorageDescriptor(
  config: Pick<Config, 'lake' | 's3Sink'>,
  location: string,
): StorageDescriptor {
  const json = isJsonLines(config);
  return {
    Columns: CDC_LAKE_COLUMNS.map((c) => ({ Name: c.name, Type: GLUE_TYPES[c.type] })),
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
          Parameters: { paths: CDC_LAKE_COLUMNS.map((c) => c.name).join(',') },
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

/**
 * Creates the CDC table unless it exists (a table the crawler made before this version is kept as it is).
 *
 * @example
 *   await ensureCdcTable(aws.glue, config); // { kind: 'glue-table', name: 'orders_lake.orders_cdc', action: 'created' }
 */
export async function ensureCdcTable(glue: GlueClient, config: Config): Promise<EnsureOutcome> {
  const name = `${config.glue.database}.${CDC_TABLE_FOLDER}`;
  try {
    await glue.send(new GetTableCommand({ DatabaseName: config.glue.database, Name: CDC_TABLE_FOLDER }));
    return { kind: 'glue-table', name, action: 'exists' };
  } catch (error) {
    if (!(error instanceof EntityNotFoundException)) throw error;
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
  for (let i = 0; i < partitions.length; i += MAX_BATCH) {
    const batch = partitions.slice(i, i + MAX_BATCH);
    const response = await glue.send(
      new BatchCreatePartitionCommand({
        DatabaseName: config.glue.database,
        TableName: CDC_TABLE_FOLDER,
        PartitionInputList: batch.map(({ partitionPath, location }) => ({
          Values: partitionValues(partitionPath),
          StorageDescriptor: cdcStorageDescriptor(config, location),
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

/** Points the partition at `location`: what readers switch on, in one call. */
export async function moveCdcPartition(
  glue: GlueClient,
  config: Config,
  partitionPath: string,
  location: string,
): Promise<void> {
  const values = partitionValues(partitionPath);
  await glue.send(
    new UpdatePartitionCommand({
      DatabaseName: config.glue.database,
      TableName: CDC_TABLE_FOLDER,
      PartitionValueList: values,
      PartitionInput: {
        Values: values,
        StorageDescriptor: cdcStorageDescriptor(config, location),
        Parameters: cdcTableParameters(config),
      },
    }),
  );
}
