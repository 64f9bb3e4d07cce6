/**
 * Athena query executions: StartQueryExecution records a QUEUED execution (or a FAILED one for a statement the
 * endpoint refuses) and hands it to the runner, which moves it on; Get, Stop, List and BatchGet read the records.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { athenaErrors } from '../errors';
import { type LakeState, PRIMARY_WORKGROUP, type QueryExecutionRecord } from '../lake-state';
import { type JsonObject, nowEpochSeconds, type OperationHandler } from '../protocol';
import type { StateFile } from '../state-file';
import {
  athenaInput,
  athenaPage,
  DATA_CATALOG,
  ENGINE_VERSION,
  WORKGROUP_LIST_INPUT,
} from './athena-requests';
import type { QueryRunner } from './query-runner';
import { classifyStatement, firstKeyword, QueryRejectedError, statementTypeOf } from './sql-guard';
import { tokenize } from './sql-tokens';
import { requireWorkGroup, resultConfiguration } from './workgroup-operations';

export const queryExecutionId = z.string().min(1).max(128);

export function requireQueryExecution(state: LakeState, id: string): QueryExecutionRecord {
  const record = state.queries.get(id);
  if (!record) throw athenaErrors.invalidRequest(`QueryExecution ${id} was not found`, 'INVALID_INPUT');
  return record;
}

/** The statement's type, and why it is refused (unsupported statement, or a catalog other than Glue's). */
function screenStatement(sql: string, catalogName: string) {
  let rejection: string | undefined;
  let statementType: 'DDL' | 'DML' | 'UTILITY';
  try {
    statementType = classifyStatement(sql).statementType;
  } catch (error) {
    if (!(error instanceof QueryRejectedError)) throw error;
    rejection = error.message;
    statementType = statementTypeOf(firstKeyword(tokenize(sql)));
  }
  if (!rejection && catalogName.toLowerCase() !== DATA_CATALOG.toLowerCase()) {
    rejection = `Catalog ${catalogName} does not exist: the local endpoint has only ${DATA_CATALOG} (the Glue catalog)`;
  }
  return { statementType, rejection };
}

/** The members of a StartQueryExecution request that differ from those of the execution it started. */
function changedParameters(
  earlier: QueryExecutionRecord,
  request: {
    QueryString: string;
    WorkGroup: string;
    Database: string;
    Catalog: string;
    ExecutionParameters?: string[];
  },
): string[] {
  const changed: string[] = [];
  if (earlier.Query !== request.QueryString) changed.push('QueryString');
  if (earlier.WorkGroup !== request.WorkGroup) changed.push('WorkGroup');
  if (earlier.QueryExecutionContext?.Database !== request.Database)
    changed.push('QueryExecutionContext.Database');
  if (earlier.QueryExecutionContext?.Catalog !== request.Catalog)
    changed.push('QueryExecutionContext.Catalog');
  if (JSON.stringify(earlier.ExecutionParameters ?? []) !== JSON.stringify(request.ExecutionParameters ?? []))
    changed.push('ExecutionParameters');
  return changed;
}

export function queryExecutionOperations(
  state: LakeState,
  file: StateFile,
  runner: QueryRunner,
): Record<string, OperationHandler> {
  const startQuery = (raw: JsonObject) => {
    const req = athenaInput(
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
    const catalogName = req.QueryExecutionContext?.Catalog ?? DATA_CATALOG;
    const database = (req.QueryExecutionContext?.Database ?? 'default').toLowerCase();
    if (req.ClientRequestToken) {
      const earlier = state.queries.get(state.clientTokens.get(req.ClientRequestToken) ?? '');
      if (earlier) {
        const changed = changedParameters(earlier, {
          QueryString: req.QueryString,
          WorkGroup: req.WorkGroup ?? PRIMARY_WORKGROUP,
          Database: database,
          Catalog: catalogName,
          ExecutionParameters: req.ExecutionParameters,
        });
        // The API reference: the same token returns the same execution, "an error is returned if a parameter,
        // such as QueryString, has changed".
        if (changed.length > 0)
          throw athenaErrors.invalidRequest(
            `ClientRequestToken ${req.ClientRequestToken} was used by query ${earlier.QueryExecutionId} with a different ${changed.join(', ')}; an idempotent retry must repeat the request unchanged`,
          );
        return { QueryExecutionId: earlier.QueryExecutionId };
      }
    }
    const wg = requireWorkGroup(state, req.WorkGroup ?? PRIMARY_WORKGROUP);
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
    const { statementType, rejection } = screenStatement(req.QueryString, catalogName);

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

  const byId = (raw: JsonObject) =>
    requireQueryExecution(
      state,
      athenaInput(z.looseObject({ QueryExecutionId: queryExecutionId }), raw).QueryExecutionId,
    );

  return {
    StartQueryExecution: startQuery,
    GetQueryExecution: (raw) => ({ QueryExecution: byId(raw) }),
    StopQueryExecution: (raw) => {
      const record = byId(raw);
      if (record.Status.State === 'QUEUED' || record.Status.State === 'RUNNING') runner.stop(record);
      return {};
    },
    ListQueryExecutions: (raw) => {
      const req = athenaInput(WORKGROUP_LIST_INPUT, raw);
      const wg = requireWorkGroup(state, req.WorkGroup ?? PRIMARY_WORKGROUP);
      const ids = [...state.queries.values()]
        .filter((q) => q.WorkGroup === wg.Name)
        .map((q) => q.QueryExecutionId)
        .reverse();
      const { page, nextToken } = athenaPage(ids, req.NextToken, req.MaxResults || 50, `queries:${wg.Name}`);
      return { QueryExecutionIds: page, NextToken: nextToken };
    },
    BatchGetQueryExecution: (raw) => {
      const req = athenaInput(
        z.looseObject({ QueryExecutionIds: z.array(queryExecutionId).min(1).max(50) }),
        raw,
      );
      return {
        QueryExecutions: req.QueryExecutionIds.flatMap((id) => {
          const record = state.queries.get(id);
          return record ? [record] : [];
        }),
        UnprocessedQueryExecutionIds: req.QueryExecutionIds.filter((id) => !state.queries.has(id)).map(
          (id) => ({
            QueryExecutionId: id,
            ErrorCode: 'INVALID_INPUT',
            ErrorMessage: `QueryExecution ${id} was not found`,
          }),
        ),
      };
    },
  };
}
