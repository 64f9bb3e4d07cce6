/**
 * The S3 sink's pure parts (record decoding, the row mapping, the partitioner, the format writers) and its
 * storage against moto S3. Parquet is checked with both readers that matter: hyparquet and DuckDB.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/aws/clients';
import { CDC_LAKE_COLUMNS } from '../../src/domain/lake-schema';
import { createLogger } from '../../src/observability/logger';
import { ensureBucket } from '../../src/resources/s3-bucket';
import { decodeCdcRecord, InvalidCdcRecordError } from '../../src/streaming/s3-sink/cdc-record';
import { createJsonLinesFormat } from '../../src/streaming/s3-sink/formats/jsonl';
import { createParquetFormat } from '../../src/streaming/s3-sink/formats/parquet';
import { toLakeRow } from '../../src/streaming/s3-sink/lake-row';
import { cdcTableRoot, createHourlyPartitioner, objectKey, parseObjectKey } from '../../src/streaming/s3-sink/partitioner';
import { createS3Storage } from '../../src/streaming/s3-sink/storage';
import { freshConfig } from '../support/fresh-config';
import { makeCdcEvents } from './s3-sink-support';

const encode = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

describe('S3 sink: decoding and the row mapping', () => {
  const [insert, modify] = makeCdcEvents(2, { orders: 1 });

  it('maps a change to the flat typed columns of the lake', () => {
    const row = toLakeRow(decodeCdcRecord(encode(modify)));
    expect(Object.keys(row)).toEqual(CDC_LAKE_COLUMNS.map((c) => c.name));
    expect(row).toMatchObject({
      order_id: 'order-000000',
      status: 'PAID',
      version: 2n,
      amount: 5,
      item_count: 1n,
      op: 'MODIFY',
      sequence_number: modify.sequenceNumber,
      last_event_type: 'PAYMENT_CAPTURED',
    });
    expect(row.change_time).toEqual(new Date(modify.changeTime));
    expect(row.created_at).toEqual(new Date(insert.changeTime));
  });

  it('takes a REMOVE from the old image', () => {
    const removed = makeCdcEvents(30, { orders: 3 }).find((e) => e.op === 'REMOVE');
    expect(removed).toBeDefined();
    const row = toLakeRow(decodeCdcRecord(encode(removed)));
    expect(row).toMatchObject({ op: 'REMOVE', order_id: removed!.orderId, version: BigInt((removed!.oldImage as { version: number }).version) });
  });

  it.each([
    ['empty-value', null],
    ['malformed-json', Buffer.from('{"op": "INSERT", ')],
    ['schema-invalid', encode({ ...insert, op: 'UPSERT' })],
    ['schema-invalid', encode({ ...insert, changeTime: 'yesterday' })],
    ['missing-image', encode({ ...insert, newImage: null })],
  ])('rejects %s input with that reason', (reason, value) => {
    expect(() => decodeCdcRecord(value)).toThrow(InvalidCdcRecordError);
    try {
      decodeCdcRecord(value);
    } catch (error) {
      expect((error as InvalidCdcRecordError).reason).toBe(reason);
    }
  });

  it('rejects a column of the wrong type with the column named', () => {
    const bad = decodeCdcRecord(encode({ ...insert, newImage: { ...insert.newImage, version: 'two' } }));
    expect(() => toLakeRow(bad)).toThrow(/column-invalid: version \(version\): expected an integer/);
  });
});

describe('S3 sink: partitioner', () => {
  it('partitions by change time in UTC and builds deterministic, parseable keys', () => {
    const partitioner = createHourlyPartitioner();
    const row = toLakeRow({ ...makeCdcEvents(1)[0], changeTime: '2024-05-01T23:59:59.999-02:00' });
    expect(partitioner.partitionPath(row)).toBe('dt=2024-05-02/hour=01');
    const root = cdcTableRoot({ lake: { prefix: 'lake' } as never });
    const key = objectKey(root, { partitionPath: 'dt=2024-05-02/hour=01', topic: 'orders.cdc', kafkaPartition: 3, startOffset: 42, extension: 'parquet' });
    expect(key).toBe('lake/orders_cdc/dt=2024-05-02/hour=01/orders.cdc+3+0000000042.parquet');
    expect(parseObjectKey(key)).toEqual({ partitionPath: 'dt=2024-05-02/hour=01', topic: 'orders.cdc', kafkaPartition: 3, startOffset: 42, extension: 'parquet' });
    expect(parseObjectKey('lake/orders_cdc/_SUCCESS')).toBeUndefined();
  });
});

describe('S3 sink: format writers', () => {
  const rows = makeCdcEvents(50, { orders: 5 }).map(toLakeRow);
  rows[3] = { ...rows[3], amount: null, created_at: null, customer_id: null };

  it('writes Parquet that hyparquet reads back with the same values and types, deterministically', async () => {
    const format = createParquetFormat();
    const body = format.encode(rows);
    expect(body.equals(format.encode(rows))).toBe(true);
    const back = await format.decode(body);
    expect(back).toEqual(rows);
    expect(typeof back[0].version).toBe('bigint');
    expect(back[0].change_time).toBeInstanceOf(Date);
  });

  it('writes Parquet whose columns DuckDB reads as VARCHAR, BIGINT, DOUBLE and TIMESTAMP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 's3-sink-parquet-'));
    try {
      const file = join(dir, 'rows.parquet');
      writeFileSync(file, createParquetFormat().encode(rows));
      const db = await DuckDBInstance.create(':memory:');
      const connection = await db.connect();
      const described = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`)).getRowObjects();
      const types = Object.fromEntries(described.map((r) => [String(r.column_name), String(r.column_type)]));
      const expected: Record<string, string> = { string: 'VARCHAR', bigint: 'BIGINT', double: 'DOUBLE', timestamp: 'TIMESTAMP' };
      expect(types).toEqual(Object.fromEntries(CDC_LAKE_COLUMNS.map((c) => [c.name, expected[c.type]])));
      const [first] = (
        await connection.runAndReadAll(
          `SELECT count(*) AS n, min(change_time)::VARCHAR AS first_change, sum(version) AS versions FROM read_parquet('${file}')`,
        )
      ).getRowObjects();
      expect(Number(first.n)).toBe(rows.length);
      expect(first.first_change).toBe('2024-05-01 09:40:00');
      expect(Number(first.versions)).toBe(rows.reduce((sum, r) => sum + Number(r.version), 0));
      connection.closeSync();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([false, true])('writes JSON lines (gzip %s) that read back to the same rows', async (gzip) => {
    const format = createJsonLinesFormat({ gzip });
    expect(format.extension).toBe(gzip ? 'jsonl.gz' : 'jsonl');
    const body = format.encode(rows);
    expect(body.equals(format.encode(rows))).toBe(true);
    expect(await format.decode(body)).toEqual(rows);
    if (!gzip) expect(body.toString('utf8').split('\n')[0]).toContain('"change_time":"2024-05-01 09:40:00.000"');
  });
});

describe('S3 sink: storage against moto', () => {
  const config = freshConfig('s3sink-storage');
  const s3 = createS3Client(config);
  const storage = createS3Storage({ s3, bucket: config.lake.bucket, logger: createLogger('test', config), multipartThresholdBytes: 6 * 1024 * 1024, partBytes: 5 * 1024 * 1024 });

  beforeAll(async () => {
    await ensureBucket(s3, config);
  });
  afterAll(() => s3.destroy());

  it('puts small objects with one PUT, large ones in parts, and lists and reads them back', async () => {
    const small = Buffer.from('hello');
    const large = Buffer.alloc(12 * 1024 * 1024 + 123, 7);
    large.write('start', 0);
    large.write('end', large.length - 3);
    await storage.put('t/a/small.bin', small, 'application/octet-stream');
    await storage.put('t/b/large.bin', large, 'application/octet-stream');
    await storage.put('t/b/large.bin', large, 'application/octet-stream'); // a replay overwrites
    expect(await storage.list('t/')).toEqual([
      { key: 't/a/small.bin', size: small.length },
      { key: 't/b/large.bin', size: large.length },
    ]);
    expect(Buffer.from(await storage.get('t/a/small.bin')).toString()).toBe('hello');
    expect(Buffer.from(await storage.get('t/b/large.bin')).equals(large)).toBe(true);
    // A multipart object's ETag ends in -<part count>: 12 MiB in 5 MiB parts is 3 parts.
    const head = await s3.send(new HeadObjectCommand({ Bucket: config.lake.bucket, Key: 't/b/large.bin' }));
    expect(head.ETag).toMatch(/-3"$/);
  });

  it('translates S3 failures into a StorageError with the key', async () => {
    const missing = createS3Storage({ s3, bucket: `${config.lake.bucket}-missing`, logger: createLogger('test', config) });
    await expect(missing.put('k', Buffer.from('x'), 'text/plain')).rejects.toMatchObject({ name: 'StorageError', message: expect.stringContaining('k') });
  });
});
