/**
 * The crawler's built-in CSV classifier (issue 17), as the Glue developer guide's "Built-in classifiers"
 * describes it: delimiter detection (comma, pipe, tab, semicolon, Ctrl-A), header detection (a first row of
 * strings over rows with other types; otherwise col0, col1, …), LazySimpleSerDe for plain fields and
 * OpenCSVSerde for quoted ones, `skip.header.line.count`, classification=csv; and Athena queries over the
 * crawled tables.
 */
import {
  CreateCrawlerCommand,
  CreateDatabaseCommand,
  DeleteDatabaseCommand,
  GetTableCommand,
} from '@aws-sdk/client-glue';
import { crawl, type LakeHarness, put, select, startHarness, suffix } from './lake-support';

let h: LakeHarness;
const db = `csv_classifier_${suffix()}`;

beforeAll(async () => {
  h = await startHarness();
  await h.aws.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: db } }));
});

afterAll(async () => {
  await h?.aws.glue.send(new DeleteDatabaseCommand({ Name: db })).catch(() => undefined);
  await h?.close();
});

/** Puts the files under csv/<folder>/, crawls that folder and returns the table it made. */
async function crawled(folder: string, files: Record<string, string>) {
  for (const [name, text] of Object.entries(files))
    await put(h.aws.s3, h.bucket, `csv/${folder}/${name}`, new TextEncoder().encode(text));
  const crawler = `csv-${folder}-${suffix()}`;
  await h.aws.glue.send(
    new CreateCrawlerCommand({
      Name: crawler,
      Role: 'role',
      DatabaseName: db,
      Targets: { S3Targets: [{ Path: `s3://${h.bucket}/csv/${folder}/` }] },
    }),
  );
  const result = await crawl(h.aws.glue, crawler);
  if (result.LastCrawl?.Status !== 'SUCCEEDED')
    throw new Error(`crawl failed: ${result.LastCrawl?.ErrorMessage}`);
  return (await h.aws.glue.send(new GetTableCommand({ DatabaseName: db, Name: folder }))).Table;
}

const columnsOf = (table: Awaited<ReturnType<typeof crawled>>) =>
  table?.StorageDescriptor?.Columns?.map((c) => [c.Name, c.Type]);

// "Built-in classifiers": header heuristics; LazySimpleSerDe with field.delim; skip.header.line.count.
test('a comma-separated file with a header: LazySimpleSerDe, its columns and types, the header skipped', async () => {
  const table = await crawled('orders_plain', {
    'a.csv': 'id,region,amount\n1,eu,10.5\n2,us,20\n3,eu,1.25\n',
    'b.csv': 'id,region,amount\n4,apac,4\n',
  });
  expect(columnsOf(table)).toEqual([
    ['id', 'bigint'],
    ['region', 'string'],
    ['amount', 'double'],
  ]);
  expect(table?.StorageDescriptor?.SerdeInfo).toEqual({
    SerializationLibrary: 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe',
    Parameters: { 'field.delim': ',' },
  });
  expect(table?.StorageDescriptor?.InputFormat).toBe('org.apache.hadoop.mapred.TextInputFormat');
  expect(table?.Parameters).toMatchObject({
    classification: 'csv',
    delimiter: ',',
    'skip.header.line.count': '1',
    areColumnsQuoted: 'false',
    recordCount: '4',
  });
  expect(await select(h, 'SELECT count(*), sum(amount) FROM orders_plain', db)).toEqual([['4', '35.75']]);
  expect(await select(h, "SELECT id FROM orders_plain WHERE region = 'eu' ORDER BY id", db)).toEqual([
    ['1'],
    ['3'],
  ]);
});

// "Built-in classifiers": a first row that is not different from the others is data: col0, col1, ….
test('a pipe-delimited file without a header: col0, col1, …, no line skipped', async () => {
  const table = await crawled('events_pipe', { 'e.txt': '1|click|0.5\n2|view|1.5\n' });
  expect(columnsOf(table)).toEqual([
    ['col0', 'bigint'],
    ['col1', 'string'],
    ['col2', 'double'],
  ]);
  expect(table?.StorageDescriptor?.SerdeInfo?.Parameters).toEqual({ 'field.delim': '|' });
  expect(table?.Parameters?.['skip.header.line.count']).toBeUndefined();
  expect(await select(h, 'SELECT col1 FROM events_pipe ORDER BY col0', db)).toEqual([['click'], ['view']]);
});

// "Built-in classifiers": when every column is a string, the first row is not taken for a header.
test('all-string rows have no header', async () => {
  const table = await crawled('names_only', { 'n.csv': 'alpha,beta\ngamma,delta\n' });
  expect(columnsOf(table)).toEqual([
    ['col0', 'string'],
    ['col1', 'string'],
  ]);
  expect(await select(h, 'SELECT count(*) FROM names_only', db)).toEqual([['2']]);
});

// Quoted fields: OpenCSVSerde with separatorChar and quoteChar; a delimiter inside quotes stays in the value.
test('quoted fields make an OpenCSVSerde table; tab and semicolon delimiters are detected', async () => {
  const quoted = await crawled('quoted', { 'q.csv': 'id,note\n1,"a, b"\n2,"say ""hi"""\n' });
  expect(quoted?.StorageDescriptor?.SerdeInfo).toEqual({
    SerializationLibrary: 'org.apache.hadoop.hive.serde2.OpenCSVSerde',
    Parameters: { separatorChar: ',', quoteChar: '"' },
  });
  expect(quoted?.Parameters?.areColumnsQuoted).toBe('true');
  expect(await select(h, 'SELECT note FROM quoted ORDER BY id', db)).toEqual([['a, b'], ['say "hi"']]);

  const tab = await crawled('tabbed', { 't.tsv': 'k\tv\nx\t1\ny\t2\n' });
  expect(tab?.StorageDescriptor?.SerdeInfo?.Parameters).toEqual({ 'field.delim': '\t' });
  const semi = await crawled('semicolon_rows', { 's.csv': 'k;v\nx;1\ny;2\n' });
  expect(semi?.StorageDescriptor?.SerdeInfo?.Parameters).toEqual({ 'field.delim': ';' });
  expect(await select(h, 'SELECT sum(v) FROM semicolon_rows', db)).toEqual([['3']]);
});
