/**
 * The pipeline's custom search attributes (`PipelineWorkflowKind`, `PipelineRunTarget`, both Keyword) on the
 * Temporal namespace: registered by provisioning when the server allows it (dev server, self-hosted), and
 * detected by every starter so runs carry them only where they exist. Without them runs carry the same fields
 * in their memo, so nothing fails on a namespace that lacks them (e.g. Temporal Cloud without admin rights).
 */
import type { ConnectionLike } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TEMPORAL_SEARCH_ATTRIBUTES } from '../contract/search-attributes';
import type { EnsureOutcome } from '../contract/outcome';
import { ResourceError } from './errors';

type Connection = Pick<ConnectionLike, 'operatorService'>;
type AttributeName = keyof typeof TEMPORAL_SEARCH_ATTRIBUTES;
type AttributeType = (typeof TEMPORAL_SEARCH_ATTRIBUTES)[AttributeName];

/** The same list the local dev server registers at start: one definition of the names and types. */
export const PIPELINE_SEARCH_ATTRIBUTES = Object.keys(TEMPORAL_SEARCH_ATTRIBUTES) as AttributeName[];

const { IndexedValueType } = temporal.api.enums.v1;
const INDEXED_TYPES: Record<AttributeType, temporal.api.enums.v1.IndexedValueType> = {
  Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
};

async function registered(connection: Connection, namespace: string): Promise<Set<string>> {
  const response = await connection.operatorService.listSearchAttributes({ namespace });
  return new Set(Object.keys(response.customAttributes ?? {}));
}

/** True when both pipeline search attributes are registered on the namespace (false if that cannot be read). */
export async function hasPipelineSearchAttributes(
  connection: Connection,
  namespace: string,
): Promise<boolean> {
  try {
    const names = await registered(connection, namespace);
    return PIPELINE_SEARCH_ATTRIBUTES.every((n) => names.has(n));
  } catch {
    return false;
  }
}

export class SearchAttributesUnavailableError extends ResourceError {
  override readonly name = 'SearchAttributesUnavailableError';
  /** The namespace does not let this identity register them: callers fall back to the memo instead. */
  readonly retriable = false;
}

/**
 * Registers the missing pipeline search attributes and waits until the server lists them.
 * Throws SearchAttributesUnavailableError when the namespace does not allow it (callers fall back to the memo).
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
): Promise<EnsureOutcome[]> {
  let names: Set<string>;
  try {
    names = await registered(connection, namespace);
  } catch (error) {
    throw new SearchAttributesUnavailableError(
      `cannot list search attributes: ${(error as Error).message}`,
      error,
    );
  }
  const missing = PIPELINE_SEARCH_ATTRIBUTES.filter((n) => !names.has(n));
  if (missing.length > 0) {
    try {
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(
          missing.map((n) => [n, INDEXED_TYPES[TEMPORAL_SEARCH_ATTRIBUTES[n]]]),
        ),
      });
    } catch (error) {
      // Another run registered them in between: fine. Anything else: the namespace does not let us.
      if (!/already exists/i.test((error as Error).message)) {
        throw new SearchAttributesUnavailableError(
          `cannot add search attributes: ${(error as Error).message}`,
          error,
        );
      }
    }
    // Registration reaches the namespace cache asynchronously; starting a run with them before that fails.
    for (
      let attempt = 0;
      attempt < 50 && !(await hasPipelineSearchAttributes(connection, namespace));
      attempt++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return PIPELINE_SEARCH_ATTRIBUTES.map((name) => ({
    kind: 'temporal-search-attribute',
    name,
    action: missing.includes(name) ? 'created' : 'exists',
  }));
}
