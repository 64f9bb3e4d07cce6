/**
 * Names shared by the workflows and their clients: queries, search attribute keys and memo fields.
 *
 * Search attributes `PipelineWorkflowKind` and `PipelineRunTarget` (Keyword) make runs easy to filter in the Web
 * UI (`PipelineWorkflowKind = "crawl"`). A namespace may not have them registered: starters then set only the memo
 * (same fields), see `src/resources/search-attributes.ts`.
 */
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import { defineQuery } from '@temporalio/workflow';
import type { TEMPORAL_SEARCH_ATTRIBUTES } from './search-attributes';
import type { BackfillProgress, CompactProgress, ReconcileProgress, WorkflowKind } from './types';

/** Checked against the list the dev server registers (src/contract/search-attributes.ts): one source of names. */
type RegisteredName = keyof typeof TEMPORAL_SEARCH_ATTRIBUTES;

export const PIPELINE_KIND = defineSearchAttributeKey(
  'PipelineWorkflowKind' satisfies RegisteredName,
  SearchAttributeType.KEYWORD,
);
export const PIPELINE_TARGET = defineSearchAttributeKey(
  'PipelineRunTarget' satisfies RegisteredName,
  SearchAttributeType.KEYWORD,
);
/** Set by the server on every run a schedule starts: the action's nominal time. */
export const SCHEDULED_START_TIME = defineSearchAttributeKey(
  'TemporalScheduledStartTime',
  SearchAttributeType.DATETIME,
);

/** Progress of a backfill: readable any time with `temporal workflow query --type progress`. */
export const backfillProgressQuery = defineQuery<BackfillProgress>('progress');

/** Progress of a compaction: `temporal workflow query --type progress`. */
export const compactProgressQuery = defineQuery<CompactProgress>('progress');

/** Progress of a reconciliation: `temporal workflow query --type progress`. */
export const reconcileProgressQuery = defineQuery<ReconcileProgress>('progress');

/** The memo every pipeline run carries, whether or not the search attributes are registered. */
export function pipelineMemo(kind: WorkflowKind, target: string): Record<string, string> {
  return { pipelineWorkflowKind: kind, pipelineRunTarget: target };
}

export function pipelineSearchAttributes(kind: WorkflowKind, target: string): SearchAttributePair[] {
  return [
    { key: PIPELINE_KIND, value: kind },
    { key: PIPELINE_TARGET, value: target },
  ];
}
