/** Workflow argument schemas (pure logic): `{}` is valid for every workflow but query, and errors name the field. */
import {
  argIssues,
  backfillArgsSchema,
  crawlArgsSchema,
  describeArgsError,
  normalizeArgsInput,
  provisionArgsSchema,
  queryArgsSchema,
  reportArgsSchema,
} from '../../src/contract/args';
import { snapshotIdFor } from '../../src/workflows/backfill-workflow';

describe('workflow argument schemas', () => {
  it('take {} (and no input at all) for every workflow but query', () => {
    for (const schema of [provisionArgsSchema, crawlArgsSchema, reportArgsSchema, backfillArgsSchema]) {
      expect(schema.safeParse(normalizeArgsInput(undefined)).success).toBe(true);
      expect(schema.safeParse(normalizeArgsInput(null)).success).toBe(true);
      expect(schema.safeParse({}).success).toBe(true);
    }
    const query = queryArgsSchema.safeParse({});
    expect(query.success).toBe(false);
    expect(describeArgsError(query.error!)).toMatch(/^sql: /);
  });

  it('name every offending field, unknown fields included', () => {
    const result = backfillArgsSchema.safeParse({
      segments: 0,
      pageSize: 'x',
      snapshotId: 'a/b',
      segmnts: 4,
    });
    expect(result.success).toBe(false);
    const fields = argIssues(result.error!)
      .map((i) => i.field)
      .sort();
    expect(fields).toEqual(['pageSize', 'segments', 'segmnts', 'snapshotId']);
    expect(describeArgsError(result.error!)).toContain('segmnts: unknown field');
  });

  it('index array elements in the field name', () => {
    const result = reportArgsSchema.safeParse({ reports: ['status_funnel', 'Bad-Name'] });
    expect(argIssues(result.error!)[0].field).toBe('reports[1]');
  });

  it('check times and names', () => {
    expect(reportArgsSchema.safeParse({ reportTime: '2024-05-01T14:00:00Z' }).success).toBe(true);
    expect(reportArgsSchema.safeParse({ reportTime: 'yesterday' }).success).toBe(false);
    expect(crawlArgsSchema.safeParse({ crawler: 'orders-cdc-crawler' }).success).toBe(true);
    expect(crawlArgsSchema.safeParse({ crawler: 'x; DROP' }).success).toBe(false);
    expect(queryArgsSchema.safeParse({ sql: 'SELECT 1', maxRows: 10_001 }).success).toBe(false);
  });

  it('derive a sortable, path-safe snapshot id from a time', () => {
    expect(snapshotIdFor(new Date('2024-05-01T14:03:09.123Z'))).toBe('20240501T140309Z');
  });
});
