/**
 * Parquet column types → Glue types, on a real footer: DuckDB writes a file with every kind of column
 * (no S3 involved), hyparquet reads its footer as the crawler does.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetMetadata, parquetSchema } from 'hyparquet';
import { parquetNodeType } from '../../src/lake-endpoint/glue/classify';
import { formatGlueType } from '../../src/lake-endpoint/glue/glue-types';

test('every Parquet type maps to its Glue type', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lake-parquet-types-'));
  const file = join(dir, 'types.parquet');
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    await conn.run(`COPY (SELECT
        'x'::VARCHAR AS s, 1::BIGINT AS b, 1::INTEGER AS i, 1::SMALLINT AS si, 1::TINYINT AS ti, 1.5::DOUBLE AS d, 1.5::FLOAT AS f,
        true AS bool, TIMESTAMP '2024-01-01 00:00:00' AS ts, DATE '2024-01-01' AS dt, 12.34::DECIMAL(10,2) AS dec,
        'ab'::BLOB AS bin, [1, 2]::BIGINT[] AS arr, {'a': 1, 'b': 'x'} AS st, [{'k': 'v'}] AS arr_st, MAP {'k': 1} AS m,
        1::UINTEGER AS ui
      ) TO '${file}' (FORMAT parquet)`);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
  const bytes = readFileSync(file);
  const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const types = Object.fromEntries(
    parquetSchema(metadata).children.map((c) => [c.element.name, formatGlueType(parquetNodeType(c))]),
  );
  rmSync(dir, { recursive: true, force: true });
  expect(types).toEqual({
    s: 'string',
    b: 'bigint',
    i: 'int',
    si: 'smallint',
    ti: 'tinyint',
    d: 'double',
    f: 'float',
    bool: 'boolean',
    ts: 'timestamp',
    dt: 'date',
    dec: 'decimal(10,2)',
    bin: 'binary',
    arr: 'array<bigint>',
    st: 'struct<a:int,b:string>',
    arr_st: 'array<struct<k:string>>',
    m: 'map<string,int>',
    ui: 'bigint',
  });
});
