/** Athena workgroups: Create/Get/List/Update/Delete, and the lookup the query and named-query operations use. */
import { z } from 'zod';
import { athenaErrors } from '../errors';
import { type LakeState, PRIMARY_WORKGROUP, type WorkGroupRecord } from '../lake-state';
import { nowEpochSeconds, type OperationHandler } from '../protocol';
import type { StateFile } from '../state-file';
import { athenaInput, athenaPage, ENGINE_VERSION } from './athena-requests';

export const resultConfiguration = z.looseObject({ OutputLocation: z.string().optional() });
const workGroupConfiguration = z.looseObject({
  ResultConfiguration: resultConfiguration.optional(),
  EnforceWorkGroupConfiguration: z.boolean().optional(),
});
const workGroupName = z.string().regex(/^[a-zA-Z0-9._-]{1,128}$/, 'must match [a-zA-Z0-9._-]{1,128}');

export function requireWorkGroup(state: LakeState, name: string): WorkGroupRecord {
  const wg = state.workGroups.get(name);
  if (!wg) throw athenaErrors.invalidRequest(`WorkGroup ${name} is not found.`, 'WORKGROUP_NOT_FOUND');
  return wg;
}

export function workGroupOperations(state: LakeState, file: StateFile): Record<string, OperationHandler> {
  return {
    CreateWorkGroup: (raw) => {
      const req = athenaInput(
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
      const wg = requireWorkGroup(
        state,
        athenaInput(z.looseObject({ WorkGroup: z.string() }), raw).WorkGroup,
      );
      return { WorkGroup: { ...wg, Configuration: { ...wg.Configuration, EngineVersion: ENGINE_VERSION } } };
    },
    ListWorkGroups: (raw) => {
      const req = athenaInput(
        z.looseObject({
          NextToken: z.string().optional(),
          MaxResults: z.number().int().min(1).max(50).optional(),
        }),
        raw,
      );
      const all = [...state.workGroups.values()].sort((a, b) => a.Name.localeCompare(b.Name));
      const { page, nextToken } = athenaPage(all, req.NextToken, req.MaxResults ?? 50, 'workgroups');
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
      const req = athenaInput(
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
      const wg = requireWorkGroup(state, req.WorkGroup);
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
      const req = athenaInput(
        z.looseObject({ WorkGroup: z.string(), RecursiveDeleteOption: z.boolean().optional() }),
        raw,
      );
      const wg = requireWorkGroup(state, req.WorkGroup);
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
  };
}
