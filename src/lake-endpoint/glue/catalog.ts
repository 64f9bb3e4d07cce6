/**
 * The Glue Data Catalog: databases, tables and partitions over the shared lake state.
 *
 * Both the Glue API handlers and the crawler write through here, so the rules live in one place: names are
 * lower-cased as Glue does, a table needs its database, a partition its table and one value per partition
 * key, and every change bumps the table's VersionId / UpdateTime (keeping the replaced definition as an archived
 * version, as Glue's UpdateTable does) and marks the state dirty.
 */
import { glueErrors } from '../errors';
import {
  type DatabaseRecord,
  type GlueColumn,
  type LakeState,
  LOCAL_CATALOG_ID,
  partitionKey,
  type PartitionRecord,
  type StorageDescriptor,
  type StringMap,
  tableKey,
  type TableRecord,
} from '../lake-state';
import { nowEpochSeconds } from '../protocol';
import type { PartitionPredicate } from './partition-expression';
import { partitionValueMap } from './partition-expression';

export interface DatabaseInput {
  Name: string;
  Description?: string;
  LocationUri?: string;
  Parameters?: StringMap;
  [member: string]: unknown;
}

export interface TableInput {
  Name: string;
  Description?: string;
  Owner?: string;
  LastAccessTime?: number;
  LastAnalyzedTime?: number;
  Retention?: number;
  StorageDescriptor?: StorageDescriptor;
  PartitionKeys?: GlueColumn[];
  TableType?: string;
  Parameters?: StringMap;
  [member: string]: unknown;
}

export interface PartitionInput {
  Values: string[];
  LastAccessTime?: number;
  LastAnalyzedTime?: number;
  StorageDescriptor?: StorageDescriptor;
  Parameters?: StringMap;
}

export type GlueCatalog = ReturnType<typeof createGlueCatalog>;

/** Glue stores database and table names in lower case; lookups are case-insensitive. */
export const normalizeName = (name: string) => name.toLowerCase();

/**
 * @example
 *   const catalog = createGlueCatalog({ state, markDirty: file.markDirty });
 *   catalog.createDatabase({ Name: 'lake' });
 */
export function createGlueCatalog(deps: { state: LakeState; markDirty: () => void }) {
  const { state, markDirty } = deps;

  const getDatabase = (name: string): DatabaseRecord => {
    const db = state.databases.get(normalizeName(name));
    if (!db) throw glueErrors.entityNotFound(`Database ${name} not found.`);
    return db;
  };

  const getTable = (database: string, name: string): TableRecord => {
    getDatabase(database);
    const table = state.tables.get(tableKey(normalizeName(database), normalizeName(name)));
    if (!table) throw glueErrors.entityNotFound(`Table ${name} not found.`);
    return table;
  };

  const findDatabase = (name: string): DatabaseRecord | undefined => state.databases.get(normalizeName(name));

  const findTable = (database: string, name: string): TableRecord | undefined =>
    state.tables.get(tableKey(normalizeName(database), normalizeName(name)));

  const partitionsOf = (table: TableRecord): Map<string, PartitionRecord> => {
    const key = tableKey(table.DatabaseName, table.Name);
    let byValues = state.partitions.get(key);
    if (!byValues) state.partitions.set(key, (byValues = new Map()));
    return byValues;
  };

  const checkValues = (table: TableRecord, values: string[]) => {
    if (values.length !== table.PartitionKeys.length) {
      throw glueErrors.invalidInput(
        `The number of partition keys do not match the number of partition values (table ${table.Name} has ${table.PartitionKeys.length} keys, got ${values.length} values)`,
      );
    }
  };

  const tableRecord = (database: string, input: TableInput, previous?: TableRecord): TableRecord => {
    const now = nowEpochSeconds();
    const { Name, PartitionKeys, Parameters, ...rest } = input;
    return {
      ...rest,
      Name: normalizeName(Name),
      DatabaseName: normalizeName(database),
      CreateTime: previous?.CreateTime ?? now,
      UpdateTime: now,
      PartitionKeys: PartitionKeys ?? [],
      Parameters: Parameters ?? {},
      IsRegisteredWithLakeFormation: false,
      CatalogId: LOCAL_CATALOG_ID,
      VersionId: String(previous ? Number(previous.VersionId) + 1 : 0),
    };
  };

  const partitionRecord = (
    table: TableRecord,
    input: PartitionInput,
    previous?: PartitionRecord,
  ): PartitionRecord => ({
    ...input,
    Values: [...input.Values],
    DatabaseName: table.DatabaseName,
    TableName: table.Name,
    CreationTime: previous?.CreationTime ?? nowEpochSeconds(),
    CatalogId: LOCAL_CATALOG_ID,
  });

  return {
    getDatabase,
    getTable,
    findTable,
    findDatabase,

    createDatabase(input: DatabaseInput): DatabaseRecord {
      const name = normalizeName(input.Name);
      if (state.databases.has(name)) throw glueErrors.alreadyExists('Database already exists.');
      const record: DatabaseRecord = {
        ...input,
        Name: name,
        CreateTime: nowEpochSeconds(),
        CatalogId: LOCAL_CATALOG_ID,
      };
      state.databases.set(name, record);
      markDirty();
      return record;
    },

    updateDatabase(name: string, input: DatabaseInput): void {
      const existing = getDatabase(name);
      if (normalizeName(input.Name) !== existing.Name) {
        throw glueErrors.invalidInput('Renaming a database is not supported by the local endpoint');
      }
      state.databases.set(existing.Name, {
        ...input,
        Name: existing.Name,
        CreateTime: existing.CreateTime,
        CatalogId: LOCAL_CATALOG_ID,
      });
      markDirty();
    },

    deleteDatabase(name: string): void {
      const db = getDatabase(name);
      for (const [key, table] of state.tables) {
        if (table.DatabaseName === db.Name) {
          state.tables.delete(key);
          state.tableVersions.delete(key);
          state.partitions.delete(key);
        }
      }
      state.databases.delete(db.Name);
      markDirty();
    },

    listDatabases(): DatabaseRecord[] {
      return [...state.databases.values()].sort((a, b) => a.Name.localeCompare(b.Name));
    },

    createTable(database: string, input: TableInput): TableRecord {
      const db = getDatabase(database);
      const key = tableKey(db.Name, normalizeName(input.Name));
      if (state.tables.has(key)) throw glueErrors.alreadyExists('Table already exists.');
      const record = tableRecord(db.Name, input);
      state.tables.set(key, record);
      state.partitions.set(key, new Map());
      markDirty();
      return record;
    },

    /** Replaces the table's definition; the one it replaces is archived as a version unless `skipArchive`. */
    updateTable(database: string, input: TableInput, skipArchive = false): TableRecord {
      const existing = getTable(database, input.Name);
      const record = tableRecord(existing.DatabaseName, input, existing);
      const key = tableKey(existing.DatabaseName, existing.Name);
      if (!skipArchive) state.tableVersions.set(key, [...(state.tableVersions.get(key) ?? []), existing]);
      state.tables.set(key, record);
      markDirty();
      return record;
    },

    /** The table's versions, the current one first, then the archived ones newest first. */
    tableVersions(database: string, name: string): TableRecord[] {
      const table = getTable(database, name);
      const archived = state.tableVersions.get(tableKey(table.DatabaseName, table.Name)) ?? [];
      return [table, ...[...archived].reverse()];
    },

    deleteTable(database: string, name: string): void {
      const table = getTable(database, name);
      const key = tableKey(table.DatabaseName, table.Name);
      state.tables.delete(key);
      state.tableVersions.delete(key);
      state.partitions.delete(key);
      markDirty();
    },

    listTables(database: string): TableRecord[] {
      const db = getDatabase(database);
      return [...state.tables.values()]
        .filter((t) => t.DatabaseName === db.Name)
        .sort((a, b) => a.Name.localeCompare(b.Name));
    },

    createPartition(table: TableRecord, input: PartitionInput): PartitionRecord {
      checkValues(table, input.Values);
      const byValues = partitionsOf(table);
      const key = partitionKey(input.Values);
      if (byValues.has(key)) throw glueErrors.alreadyExists('Partition already exists.');
      const record = partitionRecord(table, input);
      byValues.set(key, record);
      markDirty();
      return record;
    },

    getPartition(table: TableRecord, values: string[]): PartitionRecord {
      checkValues(table, values);
      const partition = partitionsOf(table).get(partitionKey(values));
      if (!partition) throw glueErrors.entityNotFound('Cannot find partition.');
      return partition;
    },

    findPartition(table: TableRecord, values: string[]): PartitionRecord | undefined {
      return partitionsOf(table).get(partitionKey(values));
    },

    updatePartition(table: TableRecord, values: string[], input: PartitionInput): PartitionRecord {
      checkValues(table, values);
      checkValues(table, input.Values);
      const byValues = partitionsOf(table);
      const previous = byValues.get(partitionKey(values));
      if (!previous) throw glueErrors.entityNotFound('Cannot find partition.');
      const record = partitionRecord(table, input, previous);
      byValues.delete(partitionKey(values));
      byValues.set(partitionKey(input.Values), record);
      markDirty();
      return record;
    },

    deletePartition(table: TableRecord, values: string[]): void {
      checkValues(table, values);
      const byValues = partitionsOf(table);
      if (!byValues.delete(partitionKey(values))) throw glueErrors.entityNotFound('Cannot find partition.');
      markDirty();
    },

    /** The table's partitions, optionally those matching a predicate (true only: unknown does not match). */
    listPartitions(table: TableRecord, predicate?: PartitionPredicate): PartitionRecord[] {
      const all = [...partitionsOf(table).values()];
      if (!predicate) return all;
      return all.filter((p) => predicate(partitionValueMap(table.PartitionKeys, p.Values)) === true);
    },
  };
}
