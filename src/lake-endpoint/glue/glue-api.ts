/**
 * Glue's catalog operations over the JSON protocol: input validation (zod, AWS-style messages), paging,
 * and the Batch* operations' per-entry error lists. Crawler operations come from `crawler-api.ts`.
 */
import { z } from 'zod';
import { glueErrors, LakeApiError } from '../errors';
import type { PartitionRecord, TableRecord } from '../lake-state';
import { decodeNextToken, type JsonObject, type OperationHandler, pageOf, parseInput } from '../protocol';
import type { DatabaseInput, GlueCatalog, PartitionInput, TableInput } from './catalog';
import { parseGlueExpression, PartitionExpressionError } from './partition-expression';

const name = z.string().min(1).max(255);
const stringMap = z.record(z.string(), z.string());
const column = z.looseObject({
  Name: name,
  Type: z.string().max(131072).optional(),
  Comment: z.string().max(255).optional(),
  Parameters: stringMap.optional(),
});
const storageDescriptor = z.looseObject({
  Columns: z.array(column).optional(),
  Location: z.string().max(2056).optional(),
  InputFormat: z.string().optional(),
  OutputFormat: z.string().optional(),
  Compressed: z.boolean().optional(),
  NumberOfBuckets: z.number().int().optional(),
  SerdeInfo: z
    .looseObject({
      Name: z.string().optional(),
      SerializationLibrary: z.string().optional(),
      Parameters: stringMap.optional(),
    })
    .optional(),
  BucketColumns: z.array(z.string()).optional(),
  SortColumns: z.array(z.object({ Column: z.string(), SortOrder: z.number().int() })).optional(),
  Parameters: stringMap.optional(),
  StoredAsSubDirectories: z.boolean().optional(),
});
const databaseInput = z.looseObject({
  Name: name,
  Description: z.string().max(2048).optional(),
  LocationUri: z.string().optional(),
  Parameters: stringMap.optional(),
});
const tableInput = z.looseObject({
  Name: name,
  Description: z.string().max(2048).optional(),
  Owner: z.string().optional(),
  LastAccessTime: z.number().optional(),
  LastAnalyzedTime: z.number().optional(),
  Retention: z.number().int().min(0).optional(),
  StorageDescriptor: storageDescriptor.optional(),
  PartitionKeys: z.array(column).optional(),
  ViewOriginalText: z.string().optional(),
  ViewExpandedText: z.string().optional(),
  TableType: z.string().optional(),
  Parameters: stringMap.optional(),
});
const values = z.array(z.string().max(1024)).max(100);
const partitionInput = z.object({
  Values: values,
  LastAccessTime: z.number().optional(),
  LastAnalyzedTime: z.number().optional(),
  StorageDescriptor: storageDescriptor.optional(),
  Parameters: stringMap.optional(),
});
const catalogId = { CatalogId: z.string().optional() };
const paging = (max: number) => ({
  NextToken: z.string().optional(),
  MaxResults: z.number().int().min(1).max(max).optional(),
});
const tableRef = { ...catalogId, DatabaseName: name, TableName: name };

const input = <T>(schema: z.ZodType<T>, raw: JsonObject) => parseInput(schema, raw, glueErrors.invalidInput);

/** One entry of a Batch* operation's `Errors`, in Glue's ErrorDetail shape. */
function batchError(error: unknown): { ErrorCode: string; ErrorMessage: string } {
  if (error instanceof LakeApiError) return { ErrorCode: error.awsType, ErrorMessage: error.message };
  throw error;
}

function withoutColumns(partition: PartitionRecord): PartitionRecord {
  if (!partition.StorageDescriptor) return partition;
  const { Columns: _columns, ...sd } = partition.StorageDescriptor;
  return { ...partition, StorageDescriptor: sd };
}

/**
 * The pattern of Athena's SHOW TABLES / SHOW DATABASES: only `*` (any run of characters) and `|`
 * (alternatives) are special, as the Athena SQL reference says; matched case-insensitively.
 */
export function hivePatternMatcher(pattern: string | undefined): (n: string) => boolean {
  if (!pattern) return () => true;
  const alternatives = pattern.split('|').map((alt) =>
    alt
      .trim()
      .split('*')
      .map((piece) => piece.replace(/[.+?^${}()[\]\\]/g, '\\$&'))
      .join('.*'),
  );
  const regex = new RegExp(`^(?:${alternatives.join('|')})$`, 'i');
  return (n) => regex.test(n);
}

/**
 * Glue's GetTables Expression: "A regular expression pattern. If present, only those tables whose names match
 * the pattern are returned" (API reference), matched against the whole name.
 */
export function tableNameMatcher(expression: string | undefined): (n: string) => boolean {
  if (!expression) return () => true;
  let regex: RegExp;
  try {
    regex = new RegExp(`^(?:${expression})$`);
  } catch (error) {
    throw glueErrors.invalidInput(
      `Expression is not a valid regular expression: ${(error as Error).message}`,
    );
  }
  return (n) => regex.test(n);
}

export function createGlueCatalogOperations(catalog: GlueCatalog): Record<string, OperationHandler> {
  const table = (db: string, t: string): TableRecord => catalog.getTable(db, t);

  return {
    CreateDatabase: (raw) => {
      const req = input(z.looseObject({ ...catalogId, DatabaseInput: databaseInput }), raw);
      catalog.createDatabase(req.DatabaseInput as DatabaseInput);
      return {};
    },
    GetDatabase: (raw) => {
      const req = input(z.looseObject({ ...catalogId, Name: name }), raw);
      return { Database: catalog.getDatabase(req.Name) };
    },
    GetDatabases: (raw) => {
      const req = input(z.looseObject({ ...catalogId, ...paging(100) }), raw);
      const { page, nextToken } = pageOf(
        catalog.listDatabases(),
        decodeNextToken(req.NextToken, 'databases', glueErrors.invalidInput),
        req.MaxResults ?? 100,
        'databases',
      );
      return { DatabaseList: page, NextToken: nextToken };
    },
    UpdateDatabase: (raw) => {
      const req = input(z.looseObject({ ...catalogId, Name: name, DatabaseInput: databaseInput }), raw);
      catalog.updateDatabase(req.Name, req.DatabaseInput as DatabaseInput);
      return {};
    },
    DeleteDatabase: (raw) => {
      const req = input(z.looseObject({ ...catalogId, Name: name }), raw);
      catalog.deleteDatabase(req.Name);
      return {};
    },

    CreateTable: (raw) => {
      const req = input(z.looseObject({ ...catalogId, DatabaseName: name, TableInput: tableInput }), raw);
      catalog.createTable(req.DatabaseName, req.TableInput as TableInput);
      return {};
    },
    GetTable: (raw) => {
      const req = input(z.looseObject({ ...catalogId, DatabaseName: name, Name: name }), raw);
      return { Table: table(req.DatabaseName, req.Name) };
    },
    GetTables: (raw) => {
      const req = input(
        z.looseObject({
          ...catalogId,
          DatabaseName: name,
          Expression: z.string().optional(),
          ...paging(100),
        }),
        raw,
      );
      const matches = tableNameMatcher(req.Expression);
      const tables = catalog.listTables(req.DatabaseName).filter((t) => matches(t.Name));
      const scope = `tables:${req.DatabaseName}`;
      const { page, nextToken } = pageOf(
        tables,
        decodeNextToken(req.NextToken, scope, glueErrors.invalidInput),
        req.MaxResults ?? 100,
        scope,
      );
      return { TableList: page, NextToken: nextToken };
    },
    UpdateTable: (raw) => {
      const req = input(
        z.looseObject({
          ...catalogId,
          DatabaseName: name,
          TableInput: tableInput,
          SkipArchive: z.boolean().optional(),
        }),
        raw,
      );
      catalog.updateTable(req.DatabaseName, req.TableInput as TableInput, req.SkipArchive === true);
      return {};
    },
    GetTableVersions: (raw) => {
      const req = input(z.looseObject({ ...tableRef, ...paging(100) }), raw);
      const versions = catalog
        .tableVersions(req.DatabaseName, req.TableName)
        .map((t) => ({ Table: t, VersionId: t.VersionId }));
      const scope = `table-versions:${req.DatabaseName}.${req.TableName}`;
      const { page, nextToken } = pageOf(
        versions,
        decodeNextToken(req.NextToken, scope, glueErrors.invalidInput),
        req.MaxResults ?? 100,
        scope,
      );
      return { TableVersions: page, NextToken: nextToken };
    },
    GetTableVersion: (raw) => {
      const req = input(
        z.looseObject({ ...tableRef, VersionId: z.string().min(1).max(255).optional() }),
        raw,
      );
      const versions = catalog.tableVersions(req.DatabaseName, req.TableName);
      // Without a VersionId, the current version.
      const version =
        req.VersionId === undefined ? versions[0] : versions.find((t) => t.VersionId === req.VersionId);
      if (!version)
        throw glueErrors.entityNotFound(`Version ${req.VersionId} of table ${req.TableName} not found.`);
      return { TableVersion: { Table: version, VersionId: version.VersionId } };
    },
    DeleteTable: (raw) => {
      const req = input(z.looseObject({ ...catalogId, DatabaseName: name, Name: name }), raw);
      catalog.deleteTable(req.DatabaseName, req.Name);
      return {};
    },
    BatchDeleteTable: (raw) => {
      const req = input(
        z.looseObject({ ...catalogId, DatabaseName: name, TablesToDelete: z.array(name).max(100) }),
        raw,
      );
      const errors = [];
      for (const t of req.TablesToDelete) {
        try {
          catalog.deleteTable(req.DatabaseName, t);
        } catch (error) {
          errors.push({ TableName: t, ErrorDetail: batchError(error) });
        }
      }
      return { Errors: errors };
    },

    CreatePartition: (raw) => {
      const req = input(z.looseObject({ ...tableRef, PartitionInput: partitionInput }), raw);
      catalog.createPartition(table(req.DatabaseName, req.TableName), req.PartitionInput as PartitionInput);
      return {};
    },
    BatchCreatePartition: (raw) => {
      const req = input(
        z.looseObject({ ...tableRef, PartitionInputList: z.array(partitionInput).min(1).max(100) }),
        raw,
      );
      const t = table(req.DatabaseName, req.TableName);
      const errors = [];
      for (const p of req.PartitionInputList) {
        try {
          catalog.createPartition(t, p as PartitionInput);
        } catch (error) {
          errors.push({ PartitionValues: p.Values, ErrorDetail: batchError(error) });
        }
      }
      return { Errors: errors };
    },
    GetPartition: (raw) => {
      const req = input(z.looseObject({ ...tableRef, PartitionValues: values }), raw);
      return { Partition: catalog.getPartition(table(req.DatabaseName, req.TableName), req.PartitionValues) };
    },
    GetPartitions: (raw) => {
      const req = input(
        z.looseObject({
          ...tableRef,
          Expression: z.string().max(2048).optional(),
          ExcludeColumnSchema: z.boolean().optional(),
          Segment: z
            .looseObject({
              SegmentNumber: z.number().int().min(0),
              TotalSegments: z.number().int().min(1).max(10),
            })
            .optional(),
          ...paging(1000),
        }),
        raw,
      );
      const t = table(req.DatabaseName, req.TableName);
      let predicate;
      if (req.Expression && req.Expression.trim() !== '') {
        try {
          predicate = parseGlueExpression(req.Expression, t.PartitionKeys);
        } catch (error) {
          if (error instanceof PartitionExpressionError) throw glueErrors.invalidInput(error.message);
          throw error;
        }
      }
      let partitions = catalog.listPartitions(t, predicate);
      if (req.Segment) {
        const { SegmentNumber, TotalSegments } = req.Segment;
        partitions = partitions.filter((_, i) => i % TotalSegments === SegmentNumber);
      }
      const scope = `partitions:${t.DatabaseName}.${t.Name}:${req.Expression ?? ''}:${req.Segment?.SegmentNumber ?? ''}`;
      const { page, nextToken } = pageOf(
        partitions,
        decodeNextToken(req.NextToken, scope, glueErrors.invalidInput),
        req.MaxResults ?? 1000,
        scope,
      );
      return { Partitions: req.ExcludeColumnSchema ? page.map(withoutColumns) : page, NextToken: nextToken };
    },
    BatchGetPartition: (raw) => {
      const req = input(
        z.looseObject({ ...tableRef, PartitionsToGet: z.array(z.object({ Values: values })).max(1000) }),
        raw,
      );
      const t = table(req.DatabaseName, req.TableName);
      // A partition that does not exist is left out; UnprocessedKeys are for throttled keys (clients retry
      // them), which the local endpoint never has.
      const found = req.PartitionsToGet.flatMap(({ Values }) => {
        const p = Values.length === t.PartitionKeys.length ? catalog.findPartition(t, Values) : undefined;
        return p ? [p] : [];
      });
      return { Partitions: found, UnprocessedKeys: [] };
    },
    UpdatePartition: (raw) => {
      const req = input(
        z.looseObject({ ...tableRef, PartitionValueList: values, PartitionInput: partitionInput }),
        raw,
      );
      catalog.updatePartition(
        table(req.DatabaseName, req.TableName),
        req.PartitionValueList,
        req.PartitionInput as PartitionInput,
      );
      return {};
    },
    BatchUpdatePartition: (raw) => {
      const req = input(
        z.looseObject({
          ...tableRef,
          Entries: z
            .array(z.object({ PartitionValueList: values, PartitionInput: partitionInput }))
            .min(1)
            .max(100),
        }),
        raw,
      );
      const t = table(req.DatabaseName, req.TableName);
      const errors = [];
      for (const entry of req.Entries) {
        try {
          catalog.updatePartition(t, entry.PartitionValueList, entry.PartitionInput as PartitionInput);
        } catch (error) {
          errors.push({ PartitionValueList: entry.PartitionValueList, ErrorDetail: batchError(error) });
        }
      }
      return { Errors: errors };
    },
    DeletePartition: (raw) => {
      const req = input(z.looseObject({ ...tableRef, PartitionValues: values }), raw);
      catalog.deletePartition(table(req.DatabaseName, req.TableName), req.PartitionValues);
      return {};
    },
    BatchDeletePartition: (raw) => {
      const req = input(
        z.looseObject({
          ...tableRef,
          PartitionsToDelete: z
            .array(z.object({ Values: values }))
            .min(1)
            .max(25),
        }),
        raw,
      );
      const t = table(req.DatabaseName, req.TableName);
      const errors = [];
      for (const { Values } of req.PartitionsToDelete) {
        try {
          catalog.deletePartition(t, Values);
        } catch (error) {
          errors.push({ PartitionValues: Values, ErrorDetail: batchError(error) });
        }
      }
      return { Errors: errors };
    },
  };
}
