/** Athena named queries (saved SQL in a workgroup): Create/Get/Update/Delete, List and BatchGet. */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { athenaErrors } from '../errors';
import { type LakeState, type NamedQueryRecord, PRIMARY_WORKGROUP } from '../lake-state';
import type { OperationHandler } from '../protocol';
import type { StateFile } from '../state-file';
import { athenaInput, athenaPage, WORKGROUP_LIST_INPUT } from './athena-requests';
import { requireWorkGroup } from './workgroup-operations';

export function namedQueryOperations(state: LakeState, file: StateFile): Record<string, OperationHandler> {
  const namedQuery = (id: string): NamedQueryRecord => {
    const record = state.namedQueries.get(id);
    if (!record) throw athenaErrors.invalidRequest(`NamedQuery ${id} was not found`);
    return record;
  };

  return {
    CreateNamedQuery: (raw) => {
      const req = athenaInput(
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
      const wg = requireWorkGroup(state, req.WorkGroup ?? PRIMARY_WORKGROUP);
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
      NamedQuery: namedQuery(athenaInput(z.looseObject({ NamedQueryId: z.string() }), raw).NamedQueryId),
    }),
    UpdateNamedQuery: (raw) => {
      const req = athenaInput(
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
      const req = athenaInput(z.looseObject({ NamedQueryId: z.string() }), raw);
      namedQuery(req.NamedQueryId);
      state.namedQueries.delete(req.NamedQueryId);
      file.markDirty();
      return {};
    },
    ListNamedQueries: (raw) => {
      const req = athenaInput(WORKGROUP_LIST_INPUT, raw);
      const wg = requireWorkGroup(state, req.WorkGroup ?? PRIMARY_WORKGROUP);
      const ids = [...state.namedQueries.values()]
        .filter((q) => q.WorkGroup === wg.Name)
        .map((q) => q.NamedQueryId);
      const { page, nextToken } = athenaPage(ids, req.NextToken, req.MaxResults || 50, `named:${wg.Name}`);
      return { NamedQueryIds: page, NextToken: nextToken };
    },
    BatchGetNamedQuery: (raw) => {
      const req = athenaInput(z.looseObject({ NamedQueryIds: z.array(z.string()).min(1).max(50) }), raw);
      return {
        NamedQueries: req.NamedQueryIds.flatMap((id) => (state.namedQueries.has(id) ? [namedQuery(id)] : [])),
        UnprocessedNamedQueryIds: req.NamedQueryIds.filter((id) => !state.namedQueries.has(id)).map((id) => ({
          NamedQueryId: id,
          ErrorCode: 'INVALID_INPUT',
          ErrorMessage: `NamedQuery ${id} was not found`,
        })),
      };
    },
  };
}
