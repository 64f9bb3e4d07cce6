/**
 * Athena's API over the JSON protocol: workgroups (with their result location), query executions
 * (Start/Get/GetResults/Stop/List/BatchGet), named queries, and the catalog views Athena offers
 * (ListDataCatalogs, ListDatabases, ListTableMetadata, …) backed by the Glue catalog.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { Logger } from '../logger';
import { athenaErrors, LakeApiError } from '../errors';
import type { GlueCatalog } from '../glue/catalog';
import { tableNameMatcher } from '../glue/glue-api';
import {
  type LakeState,
  type NamedQueryRecord,
  PRIMARY_WORKGROUP,
  type QueryExecutionRecord,
  type TableRecord,
  type WorkGroupRecord,
} from '../lake-state';
import {
  decodeNextToken,
  type JsonObject,
  nowEpochSeconds,
  type OperationHandler,
  pageOf,
  parseInput,
} from '../protocol';
import type { StateFile } from '../state-file';
import { createObjectCache } from './object-cache';
import { createQueryEngine } from './query-engine';
import { createQueryRunner } from './query-runner';
import { classifyStatement, firstKeyword, QueryRejectedError, statementTypeOf } from './sql-guard';
import { tokenize } from './sql-tokens';

export const DATA_CATALOG = 'AwsDataCatalog';
const ENGINE_VERSION = {
  SelectedEngineVersion: 'AUTO',
  EffectiveEngineVersion: 'Athena engine version 3 (local DuckDB)',
};

const input = <T>(schema: z.ZodType<T>, raw: JsonObject) =>
  parseInput(schema, raw, (m) => athenaErrors.invalidRequest(m));

const queryId = z.string().min(1).max(128);
const resultConfiguration = z.looseObject({ OutputLocation: z.string().optional() });
const workGroupConfiguration = z.looseObject({
  ResultConfiguration: resultConfiguration.optional(),
  EnforceWorkGroupConfiguration: z.boolean().optional(),
});
const workGroupName = z.string().regex(/^[a-zA-Z0-9._-]{1,128}$/, 'must match [a-zA-Z0-9._-]{1,128}');

export interface AthenaServiceDeps {
  state: LakeState;
  catalog: GlueCatalog;
  s3: S3Client;
  file: StateFile;
  lakeDir: string;
  logger: Logger;
  concurrency: number;
}

/** Maps Glue's "not found" into Athena's vocabulary for the catalog views. */
function asAthena<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof LakeApiError && error.awsType === 'EntityNotFoundException')
      throw athenaErrors.resourceNotFound(error.message);
    throw error;
  }
}

function tableMetadata(table: TableRecord) {
  return {
    Name: table.Name,
    CreateTime: table.CreateTime,
    LastAccessTime: table.LastAccessTime,
    TableType: table.TableType,
    Columns: table.StorageDescriptor?.Columns ?? [],
    PartitionKeys: table.PartitionKeys,
    Parameters: {
      ...table.Parameters,
      location: table.StorageDescriptor?.Location ?? '',
      inputformat: table.StorageDescriptor?.InputFormat ?? '',
    },
  };
}

/**
 * @example
 *   const athena = createAthenaService({ state, catalog, s3, file, lakeDir, logger, concurrency: 2 });
 *   await athena.operations.StartQueryExecution({ QueryString: 'SELECT 1', WorkGroup: 'primary', ResultConfiguration: {...} });
 */
export function createAthenaService(deps: AthenaServiceDeps) {
  const { state, catalog, file } = deps;
  const cache = createObjectCache({ s3: deps.s3, dir: join(deps.lakeDir, 'cache') });
  const engine = createQueryEngine({ catalog, s3: deps.s3, cache, logger: deps.logger });
  const runner = createQueryRunner({
    state,
    file,
    engine,
    s3: deps.s3,
    resultsDir: join(deps.lakeDir, 'results'),
    logger: deps.logger,
    concurrency: deps.concurrency,
  });

  const workGroup = (name: string): WorkGroupRecord => {
    const wg = state.workGroups.get(name);
    if (!wg) throw athenaErrors.invalidRequest(`WorkGroup ${name} is not found.`, 'WORKGROUP_NOT_FOUND');
    return wg;
  };

  const query = (id: string): QueryExecutionRecord => {
    const record = state.queries.get(id);
    if (!record) throw athenaErrors.invalidRequest(`QueryExecution ${id} was not found`, 'INVALID_INPUT');
    return record;
  };

  const namedQuery = (id: string): NamedQueryRecord => {
    const record = state.namedQueries.get(id);
    if (!record) throw athenaErrors.invalidRequest(`NamedQuery ${id} was not found`);
    return record;
  };

  const startQuery = (raw: JsonObject) => {
    const req = input(
      z.looseObject({
        QueryString: z.string().min(1).max(262144),
        ClientRequestToken: z.string().min(32).max(128).optional(),
        QueryExecutionContext: z
          .looseObject({ Database: z.string().optional(), Catalog: z.string().optional() })
          .optional(),
        ResultConfiguration: resultConfiguration.optional(),
        WorkGroup: z.string().optional(),
        ExecutionParameters: z.array(z.string().min(1).max(1024)).min(1).optional(),
      }),
      raw,
    );
    if (req.ClientRequestToken) {
      const existing = state.clientTokens.get(req.ClientRequestToken);
      if (existing && state.queries.has(existing)) return { QueryExecutionId: existing };
    }
    const wg = workGroup(req.WorkGroup ?? PRIMARY_WORKGROUP);
    if (wg.State !== 'ENABLED') throw athenaErrors.invalidRequest(`WorkGroup ${wg.Name} is disabled.`);
    const enforced = wg.Configuration.EnforceWorkGroupConfiguration === true;
    const location = enforced
      ? (wg.Configuration.ResultConfiguration?.OutputLocation ?? req.ResultConfiguration?.OutputLocation)
      : (req.ResultConfiguration?.OutputLocation ?? wg.Configuration.ResultConfiguration?.OutputLocation);
    if (!location) {
      throw athenaErrors.invalidRequest(
        'No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.',
      );
    }
    if (!/^s3:\/\/[^/]+/.test(location))
      throw athenaErrors.invalidRequest(`OutputLocation must be an s3:// URL, got "${location}"`);
    const catalogName = req.QueryExecutionContext?.Catalog ?? DATA_CATALOG;
    const database = (req.QueryExecutionContext?.Database ?? 'default').toLowerCase();

    let rejection: string | undefined;
    let statementType: 'DDL' | 'DML' | 'UTILITY';
    try {
      statementType = classifyStatement(req.QueryString).statementType;
    } catch (error) {
      if (!(error instanceof QueryRejectedError)) throw error;
      rejection = error.message;
      statementType = statementTypeOf(firstKeyword(tokenize(req.QueryString)));
    }
    if (!rejection && catalogName.toLowerCase() !== DATA_CATALOG.toLowerCase()) {
      rejection = `Catalog ${catalogName} does not exist: the local endpoint has only ${DATA_CATALOG} (the Glue catalog)`;
    }

    const id = randomUUID();
    const record: QueryExecutionRecord = {
      QueryExecutionId: id,
      Query: req.QueryString,
      StatementType: statementType,
      ResultConfiguration: {
        OutputLocation: `${location.replace(/\/*$/, '/')}${id}.${statementType === 'DML' ? 'csv' : 'txt'}`,
      },
      QueryExecutionContext: { Database: database, Catalog: catalogName },
      Status: { State: 'QUEUED', SubmissionDateTime: nowEpochSeconds() },
      Statistics: {},
      WorkGroup: wg.Name,
      EngineVersion: ENGINE_VERSION,
      ...(req.ExecutionParameters ? { ExecutionParameters: req.ExecutionParameters } : {}),
    };
    state.queries.set(id, record);
    if (req.ClientRequestToken) state.clientTokens.set(req.ClientRequestToken, id);
    file.markDirty();
    if (rejection) runner.reject(record, rejection);
    else runner.submit(record, { sql: req.QueryString, database, parameters: req.ExecutionParameters });
    return { QueryExecutionId: id };
  };

  const getResults = async (raw: JsonObject) => {
    const req = input(
      z.looseObject({
        QueryExecutionId: queryId,
        NextToken: z.string().optional(),
        MaxResults: z.number().int().min(1).max(1000).optional(),
        QueryResultType: z.string().optional(),
      }),
      raw,
    );
    const record = query(req.QueryExecutionId);
    const status = record.Status;
    if (status.State === 'FAILED')
      throw athenaErrors.invalidRequest(status.StateChangeReason ?? 'Query failed');
    if (status.State === 'CANCELLED') throw athenaErrors.invalidRequest('Query was cancelled');
    if (status.State !== 'SUCCEEDED')
      throw athenaErrors.invalidRequest(`Query has not yet finished. Current state: ${status.State}`);
    const results = await runner.results(record.QueryExecutionId);
    if (!results)
      throw athenaErrors.invalidRequest(
        `The results of query ${record.QueryExecutionId} are no longer available locally`,
      );
    const headerRow = results.header ? [results.columns.map((c) => c.Name)] : [];
    const all = [...headerRow, ...results.rows];
    const scope = `results:${record.QueryExecutionId}`;
    const offset = decodeNextToken(req.NextToken, scope, (m) => athenaErrors.invalidRequest(m));
    const { page, nextToken } = pageOf(all, offset, req.MaxResults ?? 1000, scope);
    return {
      UpdateCount: 0,
      ResultSet: {
        Rows: page.map((row) => ({ Data: row.map((cell) => (cell === null ? {} : { VarCharValue: cell })) })),
        ResultSetMetadata: { ColumnInfo: results.columns },
      },
      NextToken: nextToken,
    };
  };

  const operations: Record<string, OperationHandler> = {
    StartQueryExecution: startQuery,
    GetQueryExecution: (raw) => ({
      QueryExecution: query(input(z.looseObject({ QueryExecutionId: queryId }), raw).QueryExecutionId),
    }),
    GetQueryResults: getResults,
    StopQueryExecution: (raw) => {
      const record = query(input(z.looseObject({ QueryExecutionId: queryId }), raw).QueryExecutionId);
      if (record.Status.State === 'QUEUED' || record.Status.State === 'RUNNING') runner.stop(record);
      return {};
    },
    ListQueryExecutions: (raw) => {
      const req = input(
        z.looseObject({
          WorkGroup: z.string().optional(),
          NextToken: z.string().optional(),
          MaxResults: z.number().int().min(0).max(50).optional(),
        }),
        raw,
      );
      const wg = workGroup(req.WorkGroup ?? PRIMARY_WORKGROUP);
      const ids = [...state.queries.values()]
        .filter((q) => q.WorkGroup === wg.Name)
        .map((q) => q.QueryExecutionId)
        .reverse();
      const scope = `queries:${wg.Name}`;
      const { page, nextToken } = pageOf(
        ids,
        decodeNextToken(req.NextToken, scope, (m) => athenaErrors.invalidRequest(m)),
        req.MaxResults || 50,
        scope,
      );
      return { QueryExecutionIds: page, NextToken: nextToken };
    },
    BatchGetQueryExecution: (raw) => {
      const req = input(z.looseObject({ QueryExecutionIds: z.array(queryId).min(1).max(50) }), raw);
      return {
        QueryExecutions: req.QueryExecutionIds.flatMap((id) => (state.queries.has(id) ? [query(id)] : [])),
        UnprocessedQueryExecutionIds: req.QueryExecutionIds.filter((id) => !state.queries.has(id)).map(
          (id) => ({
            QueryExecutionId: id,
            ErrorCode: 'INVALID_INPUT',
            ErrorMessage: `QueryExecution ${id} was not found`,
          }),
        ),
      };
    },

    CreateWorkGroup: (raw) => {
      const req = input(
        z.looseObject({
          Name: workGroupName,
          Configuration: workGroupConfiguration.optional(),
          Description: z.string().max(1024).optional(),
          Tags: z.unknown().optional(),
        }),
        raw,
      );
      if (state.workGroups.has(req.Name))
        throw athenaErrors.invalidRequest('WorkGroup is already created', 'ALREADY_EXISTS');
      state.workGroups.set(req.Name, {
        Name: req.Name,
        State: 'ENABLED',
        Configuration: req.Configuration ?? {},
        Description: req.Description,
        CreationTime: nowEpochSeconds(),
      });
      file.markDirty();
      return {};
    },
    GetWorkGroup: (raw) => {
      const wg = workGroup(input(z.looseObject({ WorkGroup: z.string() }), raw).WorkGroup);
      return { WorkGroup: { ...wg, Configuration: { ...wg.Configuration, EngineVersion: ENGINE_VERSION } } };
    },
    ListWorkGroups: (raw) => {
      const req = input(
        z.looseObject({
          NextToken: z.string().optional(),
          MaxResults: z.number().int().min(1).max(50).optional(),
        }),
        raw,
      );
      const all = [...state.workGroups.values()].sort((a, b) => a.Name.localeCompare(b.Name));
      const { page, nextToken } = pageOf(
        all,
        decodeNextToken(req.NextToken, 'workgroups', (m) => athenaErrors.invalidRequest(m)),
        req.MaxResults ?? 50,
        'workgroups',
      );
      return {
        WorkGroups: page.map((wg) => ({
          Name: wg.Name,
          State: wg.State,
          Description: wg.Description,
          CreationTime: wg.CreationTime,
          EngineVersion: ENGINE_VERSION,
        })),
        NextToken: nextToken,
      };
    },
    UpdateWorkGroup: (raw) => {
      const req = input(
        z.looseObject({
          WorkGroup: z.string(),
          Description: z.string().max(1024).optional(),
          State: z.enum(['ENABLED', 'DISABLED']).optional(),
          ConfigurationUpdates: z
            .looseObject({
              EnforceWorkGroupConfiguration: z.boolean().optional(),
              ResultConfigurationUpdates: z
                .looseObject({
                  OutputLocation: z.string().optional(),
                  RemoveOutputLocation: z.boolean().optional(),
                })
                .optional(),
            })
            .optional(),
        }),
        raw,
      );
      const wg = workGroup(req.WorkGroup);
      const updates = req.ConfigurationUpdates;
      const results = { ...(wg.Configuration.ResultConfiguration ?? {}) };
      if (updates?.ResultConfigurationUpdates?.RemoveOutputLocation) delete results.OutputLocation;
      if (updates?.ResultConfigurationUpdates?.OutputLocation)
        results.OutputLocation = updates.ResultConfigurationUpdates.OutputLocation;
      wg.Configuration = {
        ...wg.Configuration,
        ResultConfiguration: results,
        ...(updates?.EnforceWorkGroupConfiguration !== undefined
          ? { EnforceWorkGroupConfiguration: updates.EnforceWorkGroupConfiguration }
          : {}),
      };
      if (req.Description !== undefined) wg.Description = req.Description;
      if (req.State) wg.State = req.State;
      file.markDirty();
      return {};
    },
    DeleteWorkGroup: (raw) => {
      const req = input(
        z.looseObject({ WorkGroup: z.string(), RecursiveDeleteOption: z.boolean().optional() }),
        raw,
      );
      const wg = workGroup(req.WorkGroup);
      if (wg.Name === PRIMARY_WORKGROUP)
        throw athenaErrors.invalidRequest('The primary workgroup cannot be deleted.');
      const named = [...state.namedQueries.values()].filter((q) => q.WorkGroup === wg.Name);
      if (named.length > 0 && !req.RecursiveDeleteOption) {
        throw athenaErrors.invalidRequest(
          `WorkGroup ${wg.Name} is not empty (it has named queries); use RecursiveDeleteOption`,
        );
      }
      for (const q of named) state.namedQueries.delete(q.NamedQueryId);
      state.workGroups.delete(wg.Name);
      file.markDirty();
      return {};
    },

    CreateNamedQuery: (raw) => {
      const req = input(
        z.looseObject({
          Name: z.string().min(1).max(128),
          Description: z.string().max(1024).optional(),
          Database: z.string().min(1).max(255),
          QueryString: z.string().min(1).max(262144),
          ClientRequestToken: z.string().optional(),
          WorkGroup: z.string().optional(),
        }),
        raw,
      );
      const wg = workGroup(req.WorkGroup ?? PRIMARY_WORKGROUP);
      const id = randomUUID();
      state.namedQueries.set(id, {
        NamedQueryId: id,
        Name: req.Name,
        Description: req.Description,
        Database: req.Database,
        QueryString: req.QueryString,
        WorkGroup: wg.Name,
      });
      file.markDirty();
      return { NamedQueryId: id };
    },
    GetNamedQuery: (raw) => ({
      NamedQuery: namedQuery(input(z.looseObject({ NamedQueryId: z.string() }), raw).NamedQueryId),
    }),
    UpdateNamedQuery: (raw) => {
      const req = input(
        z.looseObject({
          NamedQueryId: z.string(),
          Name: z.string().min(1).max(128),
          Description: z.string().max(1024).optional(),
          QueryString: z.string().min(1).max(262144),
        }),
        raw,
      );
      const record = namedQuery(req.NamedQueryId);
      Object.assign(record, { Name: req.Name, Description: req.Description, QueryString: req.QueryString });
      file.markDirty();
      return {};
    },
    DeleteNamedQuery: (raw) => {
      const req = input(z.looseObject({ NamedQueryId: z.string() }), raw);
      namedQuery(req.NamedQueryId);
      state.namedQueries.delete(req.NamedQueryId);
      file.markDirty();
      return {};
    },
    ListNamedQueries: (raw) => {
      const req = input(
        z.looseObject({
          WorkGroup: z.string().optional(),
          NextToken: z.string().optional(),
          MaxResults: z.number().int().min(0).max(50).optional(),
        }),
        raw,
      );
      const wg = workGroup(req.WorkGroup ?? PRIMARY_WORKGROUP);
      const ids = [...state.namedQueries.values()]
        .filter((q) => q.WorkGroup === wg.Name)
        .map((q) => q.NamedQueryId);
      const scope = `named:${wg.Name}`;
      const { page, nextToken } = pageOf(
        ids,
        decodeNextToken(req.NextToken, scope, (m) => athenaErrors.invalidRequest(m)),
        req.MaxResults || 50,
        scope,
      );
      return { NamedQueryIds: page, NextToken: nextToken };
    },
    BatchGetNamedQuery: (raw) => {
      const req = input(z.looseObject({ NamedQueryIds: z.array(z.string()).min(1).max(50) }), raw);
      return {
        NamedQueries: req.NamedQueryIds.flatMap((id) => (state.namedQueries.has(id) ? [namedQuery(id)] : [])),
        UnprocessedNamedQueryIds: req.NamedQueryIds.filter((id) => !state.namedQueries.has(id)).map((id) => ({
          NamedQueryId: id,
          ErrorCode: 'INVALID_INPUT',
          ErrorMessage: `NamedQuery ${id} was not found`,
        })),
      };
    },

    ListDataCatalogs: () => ({
      DataCatalogsSummary: [{ CatalogName: DATA_CATALOG, Type: 'GLUE', Status: 'CREATE_COMPLETE' }],
    }),
    GetDataCatalog: (raw) => {
      const req = input(z.looseObject({ Name: z.string() }), raw);
      if (req.Name.toLowerCase() !== DATA_CATALOG.toLowerCase())
        throw athenaErrors.invalidRequest(`Catalog ${req.Name} does not exist`);
      return {
        DataCatalog: {
          Name: DATA_CATALOG,
          Type: 'GLUE',
          Description: 'The Glue catalog of the local lake endpoint',
          Parameters: { 'catalog-id': '000000000000' },
        },
      };
    },
    ListDatabases: (raw) => {
      const req = input(
        z.looseObject({
          CatalogName: z.string(),
          NextToken: z.string().optional(),
          MaxResults: z.number().int().min(1).max(50).optional(),
        }),
        raw,
      );
      const all = catalog
        .listDatabases()
        .map((d) => ({ Name: d.Name, Description: d.Description, Parameters: d.Parameters }));
      const { page, nextToken } = pageOf(
        all,
        decodeNextToken(req.NextToken, 'athena-dbs', (m) => athenaErrors.invalidRequest(m)),
        req.MaxResults ?? 50,
        'athena-dbs',
      );
      return { DatabaseList: page, NextToken: nextToken };
    },
    GetDatabase: (raw) => {
      const req = input(z.looseObject({ CatalogName: z.string(), DatabaseName: z.string() }), raw);
      const db = asAthena(() => catalog.getDatabase(req.DatabaseName));
      return { Database: { Name: db.Name, Description: db.Description, Parameters: db.Parameters } };
    },
    ListTableMetadata: (raw) => {
      const req = input(
        z.looseObject({
          CatalogName: z.string(),
          DatabaseName: z.string(),
          Expression: z.string().optional(),
          NextToken: z.string().optional(),
          MaxResults: z.number().int().min(1).max(50).optional(),
        }),
        raw,
      );
      const matches = tableNameMatcher(req.Expression);
      const all = asAthena(() => catalog.listTables(req.DatabaseName))
        .filter((t) => matches(t.Name))
        .map(tableMetadata);
      const scope = `athena-tables:${req.DatabaseName}`;
      const { page, nextToken } = pageOf(
        all,
        decodeNextToken(req.NextToken, scope, (m) => athenaErrors.invalidRequest(m)),
        req.MaxResults ?? 50,
        scope,
      );
      return { TableMetadataList: page, NextToken: nextToken };
    },
    GetTableMetadata: (raw) => {
      const req = input(
        z.looseObject({ CatalogName: z.string(), DatabaseName: z.string(), TableName: z.string() }),
        raw,
      );
      return {
        TableMetadata: tableMetadata(asAthena(() => catalog.getTable(req.DatabaseName, req.TableName))),
      };
    },
  };

  return { operations, shutdown: () => runner.shutdown() };
}
