/**
 * Workflow-side argument checks: bad input fails the run at once with a non-retryable ApplicationFailure of type
 * `InvalidArgument` whose message names every offending field, before any activity is scheduled.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { z } from 'zod';
import { argIssues, normalizeArgsInput } from '../contract/args';
import { checkReadOnlySql, ReadOnlySqlError } from '../contract/read-only-sql';
import { FailureType } from '../contract/failure-types';

export function parseWorkflowArgs<S extends z.ZodType>(
  workflow: string,
  schema: S,
  input: unknown,
): z.infer<S> {
  const result = schema.safeParse(normalizeArgsInput(input));
  if (result.success) return result.data;
  const issues = argIssues(result.error);
  throw ApplicationFailure.create({
    type: FailureType.InvalidArgument,
    nonRetryable: true,
    message: `${workflow}: invalid argument ${issues.map((i) => `"${i.field}": ${i.message}`).join('; ')}`,
    details: [issues],
  });
}

/** An argument that passed the schema but is wrong for this worker (e.g. an unknown report name). */
export function invalidArgument(workflow: string, field: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.InvalidArgument,
    nonRetryable: true,
    message: `${workflow}: invalid argument "${field}": ${message}`,
    details: [[{ field, message }]],
  });
}

/** The read-only check as a workflow failure: type `ReadOnlyViolation` (or `InvalidArgument` for empty SQL). */
export function assertReadOnly(sql: string): void {
  try {
    checkReadOnlySql(sql);
  } catch (error) {
    if (!(error instanceof ReadOnlySqlError)) throw error;
    throw ApplicationFailure.create({
      type: error.reason === 'EmptyQuery' ? FailureType.InvalidArgument : FailureType.ReadOnlyViolation,
      nonRetryable: true,
      message: `query: ${error.message}`,
      details: [{ field: 'sql', reason: error.reason }],
    });
  }
}
