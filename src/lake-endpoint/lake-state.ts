/**
 * The endpoint's whole state — Glue catalog, crawlers and their runs, Athena workgroups, query history and
 * named queries — and its on-disk form (`<dataDir>/lake/lake-state.json`).
 *
 * Records are kept in the AWS API shapes (PascalCase members, timestamps as epoch seconds) so handlers return
 * them as they are. In memory they live in Maps keyed by name (no prototype surprises from user-chosen names);
 * on disk they are plain arrays.
 */
import { join } from 'node:path';
import { nowEpochSeconds } from './protocol';
import { createStateFile, readJsonFile, type StateFile } from './state-file';

export type StringMap = Record<string, string>;

export interface GlueColumn {
  Name: string;
  Type?: string;
  Comment?: string;
  Parameters?: StringMap;
}

export interface SerDeInfo {
  Name?: string;
  SerializationLibrary?: string;
  Parameters?: StringMap;
}

export interface StorageDescriptor {
  Columns?: GlueColumn[];
  Location?: string;
  InputFormat?: string;
  OutputFormat?: string;
  Compressed?: boolean;
  NumberOfBuckets?: number;
  SerdeInfo?: SerDeInfo;
  BucketColumns?: string[];
  SortColumns?: { Column: string; SortOrder: number }[];
  Parameters?: StringMap;
  StoredAsSubDirectories?: boolean;
  [member: string]: unknown;
}

export interface DatabaseRecord {
  Name: string;
  Description?: string;
  LocationUri?: string;
  Parameters?: StringMap;
  CreateTime: number;
  CatalogId: string;
  [member: string]: unknown;
}

export interface TableRecord {
  Name: string;
  DatabaseName: string;
  Description?: string;
  Owner?: string;
  CreateTime: number;
  UpdateTime: number;
  LastAccessTime?: number;
  LastAnalyzedTime?: number;
  Retention?: number;
  StorageDescriptor?: StorageDescriptor;
  PartitionKeys: GlueColumn[];
  TableType?: string;
  Parameters: StringMap;
  CreatedBy?: string;
  IsRegisteredWithLakeFormation: boolean;
  CatalogId: string;
  VersionId: string;
  [member: string]: unknown;
}

export interface PartitionRecord {
  Values: string[];
  DatabaseName: string;
  TableName: string;
  CreationTime: number;
  LastAccessTime?: number;
  LastAnalyzedTime?: number;
  StorageDescriptor?: StorageDescriptor;
  Parameters?: StringMap;
  CatalogId: string;
}

export interface S3Target {
  Path: string;
  Exclusions?: string[];
  SampleSize?: number;
  ConnectionName?: string;
  EventQueueArn?: string;
  DlqEventQueueArn?: string;
}

export type CrawlerState = 'READY' | 'RUNNING' | 'STOPPING';
export type LastCrawlStatus = 'SUCCEEDED' | 'CANCELLED' | 'FAILED';

export interface CrawlerRecord {
  Name: string;
  Role: string;
  Targets: { S3Targets?: S3Target[]; [kind: string]: unknown };
  DatabaseName?: string;
  Description?: string;
  Classifiers?: string[];
  RecrawlPolicy: { RecrawlBehavior: string };
  SchemaChangePolicy: { UpdateBehavior: string; DeleteBehavior: string };
  LineageConfiguration?: unknown;
  State: CrawlerState;
  TablePrefix?: string;
  Schedule?: { ScheduleExpression?: string; State?: string };
  CrawlElapsedTime?: number;
  CreationTime: number;
  LastUpdated: number;
  LastCrawl?: { Status: LastCrawlStatus; ErrorMessage?: string; StartTime: number; MessagePrefix?: string };
  Version: number;
  Configuration?: string;
  CrawlerSecurityConfiguration?: string;
  LakeFormationConfiguration?: unknown;
}

/** One crawl, as ListCrawls reports it, plus the counts GetCrawlerMetrics aggregates. */
export interface CrawlRunRecord {
  CrawlId: string;
  State: 'RUNNING' | 'COMPLETED' | 'CANCELLING' | 'CANCELLED' | 'FAILED';
  StartTime: number;
  EndTime?: number;
  Summary?: string;
  ErrorMessage?: string;
  tablesCreated: number;
  tablesUpdated: number;
  tablesDeleted: number;
}

export interface WorkGroupRecord {
  Name: string;
  State: 'ENABLED' | 'DISABLED';
  Configuration: {
    ResultConfiguration?: { OutputLocation?: string; [member: string]: unknown };
    EnforceWorkGroupConfiguration?: boolean;
    [member: string]: unknown;
  };
  Description?: string;
  CreationTime: number;
}

export type QueryState = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

export interface QueryExecutionRecord {
  QueryExecutionId: string;
  Query: string;
  StatementType?: 'DDL' | 'DML' | 'UTILITY';
  SubstatementType?: string;
  ResultConfiguration: { OutputLocation: string };
  QueryExecutionContext?: { Database?: string; Catalog?: string };
  Status: {
    State: QueryState;
    StateChangeReason?: string;
    SubmissionDateTime: number;
    CompletionDateTime?: number;
    AthenaError?: { ErrorCategory: number; ErrorType: number; Retryable: boolean; ErrorMessage: string };
  };
  Statistics: {
    EngineExecutionTimeInMillis?: number;
    DataScannedInBytes?: number;
    TotalExecutionTimeInMillis?: number;
    QueryQueueTimeInMillis?: number;
    QueryPlanningTimeInMillis?: number;
    ServiceProcessingTimeInMillis?: number;
  };
  WorkGroup: string;
  EngineVersion: { SelectedEngineVersion: string; EffectiveEngineVersion: string };
  ExecutionParameters?: string[];
}

export interface NamedQueryRecord {
  NamedQueryId: string;
  Name: string;
  Description?: string;
  Database: string;
  QueryString: string;
  WorkGroup: string;
}

export interface LakeState {
  databases: Map<string, DatabaseRecord>;
  /** Keyed by tableKey(database, table). */
  tables: Map<string, TableRecord>;
  /** tableKey → the table's archived versions (UpdateTable keeps the one it replaces), oldest first. */
  tableVersions: Map<string, TableRecord[]>;
  /** tableKey → partition values key → partition. */
  partitions: Map<string, Map<string, PartitionRecord>>;
  crawlers: Map<string, CrawlerRecord>;
  crawlRuns: Map<string, CrawlRunRecord[]>;
  /** Leaf folders (s3://bucket/prefix/) each crawler has crawled, for CRAWL_NEW_FOLDERS_ONLY. */
  crawledFolders: Map<string, string[]>;
  workGroups: Map<string, WorkGroupRecord>;
  /** In submission order (Map keeps insertion order). */
  queries: Map<string, QueryExecutionRecord>;
  /** StartQueryExecution ClientRequestToken → QueryExecutionId (idempotent retries). */
  clientTokens: Map<string, string>;
  namedQueries: Map<string, NamedQueryRecord>;
}

export const LOCAL_CATALOG_ID = '000000000000';
export const PRIMARY_WORKGROUP = 'primary';

export function tableKey(database: string, table: string): string {
  return JSON.stringify([database, table]);
}

export function partitionKey(values: string[]): string {
  return JSON.stringify(values);
}

interface StateDocument {
  version: 1;
  databases: DatabaseRecord[];
  tables: TableRecord[];
  tableVersions?: [string, TableRecord[]][];
  partitions: PartitionRecord[];
  crawlers: CrawlerRecord[];
  crawlRuns: [string, CrawlRunRecord[]][];
  crawledFolders: [string, string[]][];
  workGroups: WorkGroupRecord[];
  queries: QueryExecutionRecord[];
  clientTokens: [string, string][];
  namedQueries: NamedQueryRecord[];
}

export function emptyLakeState(): LakeState {
  const state: LakeState = {
    databases: new Map(),
    tables: new Map(),
    tableVersions: new Map(),
    partitions: new Map(),
    crawlers: new Map(),
    crawlRuns: new Map(),
    crawledFolders: new Map(),
    workGroups: new Map(),
    queries: new Map(),
    clientTokens: new Map(),
    namedQueries: new Map(),
  };
  ensurePrimaryWorkGroup(state);
  return state;
}

function ensurePrimaryWorkGroup(state: LakeState): void {
  if (state.workGroups.has(PRIMARY_WORKGROUP)) return;
  state.workGroups.set(PRIMARY_WORKGROUP, {
    Name: PRIMARY_WORKGROUP,
    State: 'ENABLED',
    Configuration: {},
    Description: '',
    CreationTime: nowEpochSeconds(),
  });
}

function toDocument(state: LakeState): StateDocument {
  return {
    version: 1,
    databases: [...state.databases.values()],
    tables: [...state.tables.values()],
    tableVersions: [...state.tableVersions.entries()],
    partitions: [...state.partitions.values()].flatMap((byValues) => [...byValues.values()]),
    crawlers: [...state.crawlers.values()],
    crawlRuns: [...state.crawlRuns.entries()],
    crawledFolders: [...state.crawledFolders.entries()],
    workGroups: [...state.workGroups.values()],
    queries: [...state.queries.values()],
    clientTokens: [...state.clientTokens.entries()],
    namedQueries: [...state.namedQueries.values()],
  };
}

function fromDocument(doc: StateDocument): LakeState {
  const state = emptyLakeState();
  for (const db of doc.databases ?? []) state.databases.set(db.Name, db);
  for (const table of doc.tables ?? []) state.tables.set(tableKey(table.DatabaseName, table.Name), table);
  state.tableVersions = new Map(doc.tableVersions ?? []);
  for (const partition of doc.partitions ?? []) {
    const key = tableKey(partition.DatabaseName, partition.TableName);
    let byValues = state.partitions.get(key);
    if (!byValues) state.partitions.set(key, (byValues = new Map()));
    byValues.set(partitionKey(partition.Values), partition);
  }
  for (const crawler of doc.crawlers ?? []) state.crawlers.set(crawler.Name, crawler);
  state.crawlRuns = new Map(doc.crawlRuns ?? []);
  state.crawledFolders = new Map(doc.crawledFolders ?? []);
  for (const wg of doc.workGroups ?? []) state.workGroups.set(wg.Name, wg);
  for (const query of doc.queries ?? []) state.queries.set(query.QueryExecutionId, query);
  state.clientTokens = new Map(doc.clientTokens ?? []);
  for (const named of doc.namedQueries ?? []) state.namedQueries.set(named.NamedQueryId, named);
  ensurePrimaryWorkGroup(state);
  return state;
}

/**
 * Work that was in flight when the endpoint stopped cannot resume (its process is gone): crawls end FAILED
 * and queries FAILED, with a reason saying so, as AWS reports an internal failure.
 */
function recoverInterrupted(state: LakeState): number {
  let recovered = 0;
  const now = nowEpochSeconds();
  for (const crawler of state.crawlers.values()) {
    if (crawler.State === 'READY') continue;
    crawler.State = 'READY';
    crawler.LastCrawl = {
      Status: 'FAILED',
      ErrorMessage: 'the local lake endpoint restarted during the crawl',
      StartTime: crawler.LastCrawl?.StartTime ?? now,
    };
    for (const run of state.crawlRuns.get(crawler.Name) ?? []) {
      if (run.State === 'RUNNING' || run.State === 'CANCELLING') {
        run.State = 'FAILED';
        run.EndTime = now;
        run.ErrorMessage = crawler.LastCrawl.ErrorMessage;
      }
    }
    recovered++;
  }
  for (const query of state.queries.values()) {
    if (query.Status.State !== 'QUEUED' && query.Status.State !== 'RUNNING') continue;
    const reason = 'the local lake endpoint restarted before the query finished';
    query.Status = {
      ...query.Status,
      State: 'FAILED',
      StateChangeReason: reason,
      CompletionDateTime: now,
      AthenaError: { ErrorCategory: 1, ErrorType: 100, Retryable: true, ErrorMessage: reason },
    };
    recovered++;
  }
  return recovered;
}

export interface PersistentLakeState {
  state: LakeState;
  file: StateFile;
  /** How many crawls/queries were interrupted by the previous stop. */
  recovered: number;
}

export const STATE_FILE_NAME = 'lake-state.json';

export class LakeStateError extends Error {
  override readonly name = 'LakeStateError';
}

/** Loads `<lakeDir>/lake-state.json` (or starts empty) and returns it with its durable writer. */
export async function loadLakeState(lakeDir: string): Promise<PersistentLakeState> {
  const path = join(lakeDir, STATE_FILE_NAME);
  let doc: StateDocument | undefined;
  try {
    doc = (await readJsonFile(path)) as StateDocument | undefined;
  } catch (error) {
    // Never start over silently: the file holds the catalog and the query history.
    throw new LakeStateError(
      `cannot read ${path}: ${(error as Error).message} (repair it, or move it away to start with an empty catalog)`,
    );
  }
  const state = doc ? fromDocument(doc) : emptyLakeState();
  const recovered = recoverInterrupted(state);
  const file = createStateFile(path, () => toDocument(state));
  if (recovered > 0) {
    file.markDirty();
    await file.flush();
  }
  return { state, file, recovered };
}
