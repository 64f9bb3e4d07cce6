/** The query workflow's SQL size limit (pure logic): Athena's QueryString limit is 262,144 UTF-8 bytes. */
import { describeArgsError, MAX_SQL_BYTES, queryArgsSchema, utf8ByteLength } from '../../src/contract/args';

const selectOfBytes = (bytes: number, filler = 'x') => {
  const head = "SELECT '";
  const tail = "'";
  const fillerBytes = utf8ByteLength(filler);
  return head + filler.repeat((bytes - head.length - tail.length) / fillerBytes) + tail;
};

describe('query sql size', () => {
  it('accepts a statement of exactly 262,144 bytes', () => {
    const sql = selectOfBytes(MAX_SQL_BYTES);
    expect(utf8ByteLength(sql)).toBe(MAX_SQL_BYTES);
    expect(queryArgsSchema.safeParse({ sql }).success).toBe(true);
  });

  it('names the field, the limit and the actual size of a longer statement', () => {
    const result = queryArgsSchema.safeParse({ sql: selectOfBytes(300_000) });
    expect(result.success).toBe(false);
    expect(describeArgsError(result.error!)).toBe(
      "sql: is 300,000 bytes (UTF-8), over Athena's QueryString limit of 262,144 bytes",
    );
  });

  it('counts bytes, not characters', () => {
    // 100,000 characters of a 3-byte letter: under the limit in characters, over it in bytes.
    const sql = selectOfBytes(300_009, '€');
    expect(sql.length).toBeLessThan(MAX_SQL_BYTES);
    const result = queryArgsSchema.safeParse({ sql });
    expect(describeArgsError(result.error!)).toBe(
      "sql: is 300,009 bytes (UTF-8), over Athena's QueryString limit of 262,144 bytes",
    );
  });

  it('still says what is wrong with a missing or non-string sql', () => {
    expect(describeArgsError(queryArgsSchema.safeParse({}).error!)).toBe(
      'sql: is required (one read-only SQL statement)',
    );
    expect(describeArgsError(queryArgsSchema.safeParse({ sql: 42 }).error!)).toBe('sql: must be a string');
  });

  it('agrees with Node on UTF-8 length, astral characters and lone surrogates included', () => {
    for (const text of ['abc', 'é€😀', '\ud800x', ''])
      expect(utf8ByteLength(text)).toBe(Buffer.byteLength(text, 'utf8'));
  });
});
