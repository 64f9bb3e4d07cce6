/**
 * What every Athena operation shares: input validation and paging that fail with Athena's
 * InvalidRequestException, the one data catalog (the Glue catalog) and the engine version it reports.
 */
import { z } from 'zod';
import { athenaErrors } from '../errors';
import { decodeNextToken, type JsonObject, pageOf, parseInput } from '../protocol';

export const DATA_CATALOG = 'AwsDataCatalog';

export const ENGINE_VERSION = {
  SelectedEngineVersion: 'AUTO',
  EffectiveEngineVersion: 'Athena engine version 3 (local DuckDB)',
};

export const athenaInput = <T>(schema: z.ZodType<T>, raw: JsonObject) =>
  parseInput(schema, raw, (m) => athenaErrors.invalidRequest(m));

/** One page of `items` from the position `nextToken` names; tokens are only valid within their `scope`. */
export function athenaPage<T>(items: T[], nextToken: string | undefined, maxResults: number, scope: string) {
  const offset = decodeNextToken(nextToken, scope, (m) => athenaErrors.invalidRequest(m));
  return pageOf(items, offset, maxResults, scope);
}

/** The input of the List* operations that page through one workgroup's records (50 a page at most). */
export const WORKGROUP_LIST_INPUT = z.looseObject({
  WorkGroup: z.string().optional(),
  NextToken: z.string().optional(),
  MaxResults: z.number().int().min(0).max(50).optional(),
});
