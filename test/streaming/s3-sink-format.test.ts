/**
 * The S3 sink's pure parts (record decoding, the row mapping, the partitioner, the format writers) and its
 * storage against moto S3. Parquet is checked with both readers that matter: hyparquet and DuckDB.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/aws/clients';
import { CDC_LAKE_COLUMNS } from '../../src/lake-format/lake-schema';
import { createLogger } from '../../src/observability/logger';
import { ensureBucket } from '../../src/resources/s3-bucket';
import { decodeCdcChange, decodeCdcRecord, InvalidCdcRecordError } from '../../src/lake-format/cdc-record';
import { createDuckDbChangeEncoder } from '../../src/lake-format/formats/duckdb-encoder';
import { createJsonLinesFormat } from '../../src/lake-format/formats/jsonl';
import { createParquetFormat } from '../../src/lake-format/formats/parquet';
import { changeLine, lakeRowOfLine } from '../../src/lake-format/change-line';
import { toLakeRow, type LakeRow } from '../../src/lake-format/lake-row';
import {
  cdcTableRoot,
  createHourlyPartitioner,
  objectKey,
  parseObjectKey,
} from '../../src/lake-format/cdc-layout';
import { createS3Storage } from '../../src/lake-format/storage';
import { emptyBucket } from '../support/cleanup';
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

  it('flattens the v2 fields into their columns, NULL where an image lacks them', () => {
    const image = modify.newImage!;
    const v2 = {
      ...modify,
      newImage: { ...image, channel: 'web', shippingAddress: { country: 'GB', postcode: 'SW1A 1AA' } },
    };
    expect(toLakeRow(decodeCdcRecord(encode(v2)))).toMatchObject({
      channel: 'web',
      discount_code: null,
      shipping_country: 'GB',
      shipping_postcode: 'SW1A 1AA',
    });
    expect(toLakeRow(decodeCdcRecord(encode(modify)))).toMatchObject({
      channel: null,
      discount_code: null,
      shipping_country: null,
      shipping_postcode: null,
    });
    const notAMap = { ...modify, newImage: { ...image, shippingAddress: 'GB' } };
    expect(() => toLakeRow(decodeCdcRecord(encode(notAMap)))).toThrow(
      'column-invalid: shipping_country (shippingAddress.country): expected shippingAddress to be a map, got "GB"',
    );
  });

  it('takes a REMOVE from the old image', () => {
    const removed = makeCdcEvents(30, { orders: 3 }).find((e) => e.op === 'REMOVE');
    expect(removed).toBeDefined();
    const row = toLakeRow(decodeCdcRecord(encode(removed)));
    expect(row).toMatchObject({
      op: 'REMOVE',
      order_id: removed!.orderId,
      version: BigInt((removed!.oldImage as { version: number }).version),
    });
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

  it('gives the change time in epoch ms, parsed once with its offset honoured', () => {
    const { event, changeMs } = decodeCdcChange(
      encode({ ...insert, changeTime: '2024-05-01T23:59:59.999-02:00' }),
    );
    expect(event.orderId).toBe(insert.orderId);
    expect(changeMs).toBe(Date.UTC(2024, 4, 2, 1, 59, 59, 999));
  });

  it.each([
    ['2024-13-01T10:00:00Z', 'changeTime: not a real date: 2024-13-01T10:00:00Z'],
    ['yesterday', 'changeTime: expected an ISO-8601 timestamp with an offset, got "yesterday"'],
    [42, 'changeTime: expected a non-empty string'],
  ])('names what is wrong with the change time %p', (changeTime, problem) => {
    expect(() => decodeCdcChange(encode({ ...insert, changeTime }))).toThrow(problem);
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
    expect(partitioner.partitionPath((row.change_time as Date).getTime())).toBe('dt=2024-05-02/hour=01');
    const root = cdcTableRoot({ lake: { prefix: 'lake' } as never });
    const key = objectKey(root, {
      partitionPath: 'dt=2024-05-02/hour=01',
      topic: 'orders.cdc',
      kafkaPartition: 3,
      startOffset: 42,
      extension: 'parquet',
    });
    expect(key).toBe('lake/orders_cdc/dt=2024-05-02/hour=01/orders.cdc+3+0000000042.parquet');
    expect(parseObjectKey(key)).toEqual({
      partitionPath: 'dt=2024-05-02/hour=01',
      topic: 'orders.cdc',
      kafkaPartition: 3,
      startOffset: 42,
      extension: 'parquet',
    });
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

  it.each([
    ['the JavaScript writer', () => Promise.resolve(createParquetFormat().encode(rows))],
    ['the native (DuckDB) writer', () => encodeNatively(makeCdcEvents(50, { orders: 5 }))],
  ])(
    'writes Parquet whose columns DuckDB reads as VARCHAR, BIGINT, DOUBLE and TIMESTAMP: %s',
    async (_name, encode) => {
      const body = await encode();
      const dir = mkdtempSync(join(tmpdir(), 's3-sink-parquet-'));
      try {
        const file = join(dir, 'rows.parquet');
        writeFileSync(file, body);
        const db = await DuckDBInstance.create(':memory:');
        const connection = await db.connect();
        const described = (
          await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`)
        ).getRowObjects();
        const types = Object.fromEntries(
          described.map((r) => [String(r.column_name), String(r.column_type)]),
        );
        const expected: Record<string, string> = {
          string: 'VARCHAR',
          bigint: 'BIGINT',
          double: 'DOUBLE',
          timestamp: 'TIMESTAMP',
        };
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
    },
  );

  it.each([false, true])('writes JSON lines (gzip %s) that read back to the same rows', async (gzip) => {
    const format = createJsonLinesFormat({ gzip });
    expect(format.extension).toBe(gzip ? 'jsonl.gz' : 'jsonl');
    const body = format.encode(rows);
    expect(body.equals(format.encode(rows))).toBe(true);
    expect(await format.decode(body)).toEqual(rows);
    if (!gzip)
      expect(body.toString('utf8').split('\n')[0]).toContain('"change_time":"2024-05-01 09:40:00.000"');
  });
});

/** The sink's path: decode and validate each change, then encode its line natively. */
async function encodeNatively(events: unknown[], onFallback?: (error: Error) => void): Promise<Buffer> {
  const format = createParquetFormat({ onFallback });
  try {
    const lines = events.map((event) => {
      const value = encode(event);
      return changeLine(value, decodeCdcRecord(value));
    });
    return await format.encodeChanges(lines);
  } finally {
    format.close();
  }
}

/** Strings as UTF-8 can carry them: a lone surrogate becomes U+FFFD (what either Parquet writer stores). */
const wellFormed = (row: LakeRow): LakeRow =>
  Object.fromEntries(
    Object.entries(row).map(([name, value]) => [
      name,
      typeof value === 'string' ? value.toWellFormed() : value,
    ]),
  );

describe('S3 sink: the native Parquet encoder (DuckDB) writes exactly the rows of the JavaScript mapping', () => {
  const events = makeCdcEvents(40, { orders: 6 });
  const [insert] = events;
  const image = insert.newImage as Record<string, unknown>;
  // Valid changes whose values are not all of their column's JSON type: JavaScript converts them.
  const converted = [
    // An integer as a string past 2^53: exact as BigInt, and must stay exact in the normalized line.
    { ...insert, newImage: { ...image, amount: '12.50', version: '9007199254740993', itemCount: 3.0 } },
    { ...insert, changeTime: '2024-05-01T11:40:00.123456+02:00' },
    { ...insert, newImage: { ...image, createdAt: 1714556400123, customerId: 'a\u0007b \ud800 é "quoted"' } },
  ];
  // Plain, though not as the relay writes it: nulls, a missing column, a key the lake does not read.
  const sparse = {
    ...insert,
    newImage: { ...image, amount: null, region: undefined, extra: { version: 'not read' } },
  };
  const pretty = JSON.stringify({ ...insert, newImage: { ...image, status: 'PAID' } }, null, 2);
  // Schema v2 images: the address is a map whose fields are columns of their own.
  const v2Image = {
    ...image,
    channel: 'web',
    discountCode: 'WELCOME10',
    shippingAddress: { country: 'GB', postcode: 'SW1A 1AA' },
  };
  const v2Plain = { ...insert, newImage: v2Image };
  const v2Converted = {
    ...insert,
    newImage: { ...v2Image, amount: '7.25', shippingAddress: { country: 'DE' } },
  };

  it('hands relay-shaped changes to the encoder as they are, and normalizes the others', () => {
    for (const change of [insert, sparse, v2Plain]) {
      const value = encode(change);
      expect(changeLine(value, decodeCdcRecord(value))).toBe(value);
    }
    for (const change of [...converted, pretty, v2Converted]) {
      const value = encode(change);
      const line = changeLine(value, decodeCdcRecord(value));
      expect(line).not.toBe(value);
      expect(line.includes(0x0a)).toBe(false);
      expect(lakeRowOfLine(line)).toEqual(wellFormed(toLakeRow(decodeCdcRecord(value))));
    }
  });

  it('reads back, with hyparquet, the same rows toLakeRow builds (offsets, conversions, nulls, REMOVE)', async () => {
    const all = [...events, ...converted, pretty, sparse, v2Plain, v2Converted];
    const fallbacks: Error[] = [];
    const body = await encodeNatively(all, (error) => fallbacks.push(error));
    expect(fallbacks).toEqual([]);
    const expected = all.map((event) => wellFormed(toLakeRow(decodeCdcRecord(encode(event)))));
    expect(await createParquetFormat().decode(body)).toEqual(expected);
    expect(expected.some((row) => row.op === 'REMOVE')).toBe(true);
    expect(expected.slice(-2).map((row) => [row.shipping_country, row.shipping_postcode])).toEqual([
      ['GB', 'SW1A 1AA'],
      ['DE', null],
    ]);
  });

  it('keeps integers past 2^53 exact on every path: DuckDB, the JavaScript fallback and JSON lines', async () => {
    const value = encode(converted[0]);
    const line = changeLine(value, decodeCdcRecord(value));
    expect(lakeRowOfLine(line).version).toBe(9007199254740993n);
    const jsonl = createJsonLinesFormat({ gzip: false });
    expect((await jsonl.encodeChanges([line])).toString('utf8')).toContain('"version":9007199254740993,');
    // Forced through the fallback by a second line DuckDB refuses (duplicate keys).
    const duplicated = Buffer.from(`${JSON.stringify(insert).slice(0, -1)},"op":"MODIFY"}`);
    const format = createParquetFormat();
    try {
      const rows = await format.decode(await format.encodeChanges([line, duplicated]));
      expect(rows[0].version).toBe(9007199254740993n);
    } finally {
      format.close();
    }
  });

  it('rejects a timestamp outside the range of a Date as an invalid column, never a crash', () => {
    const value = encode({ ...insert, newImage: { ...image, createdAt: 1e20 } });
    const event = decodeCdcRecord(value);
    expect(() => changeLine(value, event)).toThrow(InvalidCdcRecordError);
    expect(() => changeLine(value, event)).toThrow(
      /column-invalid: created_at \(createdAt\): expected an ISO-8601 timestamp/,
    );
  });

  it('falls back to the JavaScript writer for an object DuckDB refuses (duplicate keys), with the JavaScript values', async () => {
    const duplicated = Buffer.from(`${JSON.stringify(insert).slice(0, -1)},"op":"MODIFY"}`);
    const fallbacks: Error[] = [];
    const body = await encodeNatively([duplicated.toString()], (error) => fallbacks.push(error));
    expect(fallbacks).toHaveLength(1);
    expect(await createParquetFormat().decode(body)).toEqual([toLakeRow(decodeCdcRecord(duplicated))]);
    expect(toLakeRow(decodeCdcRecord(duplicated)).op).toBe('MODIFY');
  });

  it('keeps its temporary files in its own folder, removed on close, and removes the folders of dead sinks', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const orphan = mkdtempSync(join(tmpdir(), `orders-s3-sink-${dead}-`));
    writeFileSync(join(orphan, 'left-by-kill-9.ndjson'), '{}\n');
    const ours = () =>
      readdirSync(tmpdir()).filter((name) => name.startsWith(`orders-s3-sink-${process.pid}-`));
    const before = ours();
    const encoder = createDuckDbChangeEncoder();
    await encoder.encodeParquet([encode(insert)]);
    expect(existsSync(orphan)).toBe(false);
    const created = ours().filter((name) => !before.includes(name));
    expect(created).toHaveLength(1);
    expect(readdirSync(join(tmpdir(), created[0]))).toEqual([]); // each object's files are removed once read
    encoder.close();
    expect(ours()).toEqual(before);
  });

  it('keeps the temporary folder of a sink that is still running', async () => {
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    const folder = mkdtempSync(join(tmpdir(), `orders-s3-sink-${live.pid}-`));
    try {
      const encoder = createDuckDbChangeEncoder();
      await encoder.encodeParquet([encode(insert)]);
      encoder.close();
      expect(existsSync(folder)).toBe(true);
    } finally {
      live.kill('SIGKILL');
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('writes an object with no rows (an anchor emptied by de-duplication)', async () => {
    const format = createParquetFormat();
    try {
      expect(await format.decode(await format.encodeChanges([]))).toEqual([]);
    } finally {
      format.close();
    }
  });
});

describe('S3 sink: storage against moto', () => {
  const config = freshConfig('s3sink-storage');
  const s3 = createS3Client(config);
  const storage = createS3Storage({
    s3,
    bucket: config.lake.bucket,
    logger: createLogger('test', config),
    multipartThresholdBytes: 6 * 1024 * 1024,
    partBytes: 5 * 1024 * 1024,
  });

  beforeAll(async () => {
    await ensureBucket(s3, config);
  });
  afterAll(async () => {
    await emptyBucket(s3, config.lake.bucket, { deleteBucket: true });
    s3.destroy();
  });

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

  it('uploads a file (a large one in parts read from the file) and downloads objects into files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'storage-files-'));
    try {
      const large = Buffer.alloc(12 * 1024 * 1024 + 321, 3);
      large.write('first', 0);
      large.write('last', large.length - 4);
      writeFileSync(join(dir, 'large.bin'), large);
      writeFileSync(join(dir, 'small.bin'), 'tiny');
      await storage.putFile('f/large.bin', join(dir, 'large.bin'), 'application/octet-stream');
      await storage.putFile('f/small.bin', join(dir, 'small.bin'), 'application/octet-stream');
      const head = await s3.send(new HeadObjectCommand({ Bucket: config.lake.bucket, Key: 'f/large.bin' }));
      expect(head.ETag).toMatch(/-3"$/);
      expect(Buffer.from(await storage.get('f/large.bin')).equals(large)).toBe(true);

      await storage.download('f/large.bin', join(dir, 'back.bin'));
      expect(readFileSync(join(dir, 'back.bin')).equals(large)).toBe(true);
      await storage.download('f/small.bin', join(dir, 'small-back.bin'));
      expect(readFileSync(join(dir, 'small-back.bin'), 'utf8')).toBe('tiny');
      await expect(storage.download('f/none.bin', join(dir, 'none.bin'))).rejects.toMatchObject({
        name: 'StorageError',
        message: expect.stringContaining('f/none.bin'),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('translates S3 failures into a StorageError with the key', async () => {
    const missing = createS3Storage({
      s3,
      bucket: `${config.lake.bucket}-missing`,
      logger: createLogger('test', config),
    });
    await expect(missing.put('k', Buffer.from('x'), 'text/plain')).rejects.toMatchObject({
      name: 'StorageError',
      message: expect.stringContaining('k'),
    });
  });
});
