/**
 * Custom search attributes the local Temporal dev server registers at start (`--search-attribute K=Type`).
 * Plain data with no imports, so worker, client and workflow code can all import it. Extend the list here;
 * an attribute needs a stack restart to be registered on the dev server.
 */
export const TEMPORAL_SEARCH_ATTRIBUTES = {
  PipelineWorkflowKind: 'Keyword',
  PipelineRunTarget: 'Keyword',
} as const satisfies Record<
  string,
  'Keyword' | 'Text' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList'
>;
