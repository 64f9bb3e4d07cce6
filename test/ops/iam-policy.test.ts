/**
 * `npm run pipeline -- iam` builds the policies from src/aws/iam. This test reads the code: every AWS SDK
 * command (`new XxxCommand(...)`, paginators and waiters of an @aws-sdk/client-* package, found in the syntax
 * tree, so comments and type-only imports do not count) that each process can send — the files reachable by
 * value imports from its entry point — and checks that the process's policy grants each on the configured
 * resources, and grants nothing the process does not send.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import {
  iamContext,
  pipelinePolicies,
  type GeneratedPolicy,
  type PolicyDocument,
} from '../../src/aws/iam/policies';
import { dynamoSinkGroup, relayTransactionalIds, s3SinkGroup } from '../../src/aws/iam/kafka-access';
import { MAIN_JOB_ACCESS, PROCESS_ACCESS, type AwsProcessName } from '../../src/aws/iam/process-access';
import {
  SDK_COMMANDS,
  WILDCARD_ONLY_ACTIONS,
  type CommandGrant,
  type SdkCommand,
} from '../../src/aws/iam/sdk-actions';
import { main as pipelineCli } from '../../src/cli/pipeline';
import { runScopedConfig } from '../../src/cli/main-job/run-scope';
import { configToEnv, withOverrides, type Config } from '../../src/config';
import { ALL_PIPELINE_PROCESSES, GENERATOR_PROCESS } from '../../src/local/pipeline-processes';
import { shardTransactionalId } from '../../src/streaming/cdc-relay/cdc-publisher';
import { dynamoSinkGroupId } from '../../src/streaming/dynamo-sink/dynamo-sink';
import { s3SinkGroupId } from '../../src/streaming/s3-sink/s3-sink';
import { freshConfig } from '../support/fresh-config';

const root = join(__dirname, '..', '..');
const SDK_PACKAGE = /^@aws-sdk\/client-([a-z0-9-]+)$/;

interface SourceFacts {
  imports: string[];
  commands: string[];
}

/** The files a file imports by value, and the SDK commands it sends. */
function readSource(file: string): SourceFacts {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const imports: string[] = [];
  const sdkNames = new Map<string, string>();
  const commands = new Set<string>();
  const local = (specifier: string) => {
    if (!specifier.startsWith('.')) return;
    const base = resolve(dirname(file), specifier);
    const found = [`${base}.ts`, join(base, 'index.ts')].find((candidate) => existsSync(candidate));
    if (found) imports.push(found);
  };
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
      const clause = statement.importClause;
      if (clause?.isTypeOnly) continue;
      const named =
        clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings : undefined;
      const valueNames = named?.elements.filter((element) => !element.isTypeOnly) ?? [];
      const specifier = statement.moduleSpecifier.text;
      const sdk = SDK_PACKAGE.exec(specifier);
      if (sdk) for (const element of valueNames) sdkNames.set(element.name.text, sdk[1]);
      if (!clause || clause.name || !named || valueNames.length > 0) local(specifier);
    }
    if (
      ts.isExportDeclaration(statement) &&
      !statement.isTypeOnly &&
      statement.moduleSpecifier &&
      ts.isStringLiteral(statement.moduleSpecifier)
    )
      local(statement.moduleSpecifier.text);
  }
  const visit = (node: ts.Node) => {
    const callee = ts.isNewExpression(node) || ts.isCallExpression(node) ? node.expression : undefined;
    if (callee && ts.isIdentifier(callee) && sdkNames.has(callee.text)) {
      const name = callee.text;
      const client = sdkNames.get(name)!;
      if (ts.isNewExpression(node) && name.endsWith('Command'))
        commands.add(`${client}.${name.slice(0, -'Command'.length)}`);
      if (ts.isCallExpression(node) && name.startsWith('paginate'))
        commands.add(`${client}.${name.slice('paginate'.length)}`);
      // The SDK's waiters poll a describe call: TableExists → DescribeTable.
      if (ts.isCallExpression(node) && /^waitUntilTable(Not)?Exists$/.test(name))
        commands.add(`${client}.DescribeTable`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { imports, commands: [...commands] };
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const facts = new Map<string, SourceFacts>();
const factsOf = (file: string) => {
  if (!facts.has(file)) facts.set(file, readSource(file));
  return facts.get(file)!;
};

/** Every SDK command sent by the files reachable from `entry`. */
function commandsReachableFrom(entry: string): Set<string> {
  const seen = new Set<string>();
  const pending = [join(root, entry)];
  const commands = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const { imports, commands: sent } = factsOf(file);
    for (const command of sent) commands.add(command);
    pending.push(...imports);
  }
  return commands;
}

const entryOf = (name: string) => ALL_PIPELINE_PROCESSES.find((process) => process.name === name)!.entry;
const processes = Object.keys(PROCESS_ACCESS) as AwsProcessName[];
const declared = (uses: { commands: string[] }[]) => new Set(uses.flatMap((use) => use.commands));
const sorted = (values: Iterable<string>) => [...values].sort();

// --- a tiny IAM evaluator: Allow statements, exact actions, `*` in resources, StringEquals/StringLike ---
const glob = (pattern: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );

function allows(
  document: PolicyDocument,
  action: string,
  resource: string,
  context: Record<string, string> = {},
): boolean {
  return document.Statement.some((statement) => {
    if (!statement.Action.includes(action)) return false;
    if (!(statement.Resource ?? []).some((pattern) => glob(pattern).test(resource))) return false;
    return Object.entries(statement.Condition ?? {}).every(([operator, keys]) =>
      Object.entries(keys).every(([key, expected]) => {
        const value = context[key];
        if (value === undefined) return false;
        const values = Array.isArray(expected) ? expected : [expected];
        return operator === 'StringLike' ? values.some((v) => glob(v).test(value)) : values.includes(value);
      }),
    );
  });
}

const ACCOUNT = '123456789012';
const REGION = 'eu-west-3';
const cdcTableArnOf = (database: string) => `arn:aws:glue:${REGION}:${ACCOUNT}:table/${database}/orders_cdc`;

function policiesFor(config: Config): Map<string, GeneratedPolicy> {
  const ctx = iamContext(config, { account: ACCOUNT, region: REGION });
  return new Map(
    pipelinePolicies(ctx, { boundedRunConfig: runScopedConfig(config, '*') }).map((p) => [p.name, p]),
  );
}

describe('IAM policies from the configuration', () => {
  // Distinct names everywhere, so a resource that is not built from the config shows.
  const config = withOverrides(freshConfig('iam'), {
    lake: {
      bucket: 'acme-orders-lake-test',
      prefix: 'cdc-data',
      snapshotPrefix: 'table-snapshots',
      reportsPrefix: 'daily-reports',
      athenaResultsPrefix: 'query-results',
    },
    glue: {
      database: 'acme_lake',
      crawler: 'acme-crawler',
      crawlerRole: 'arn:aws:iam::000000000000:role/service/acme-crawler-role',
    },
    athena: { workgroup: 'acme-wg' },
  });
  const policies = policiesFor(config);
  const table = (name: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
  const object = (key: string) => `arn:aws:s3:::${config.lake.bucket}/${key}`;
  const bucket = `arn:aws:s3:::${config.lake.bucket}`;
  const doc = (name: string) => policies.get(`orders-pipeline-${name}`)!.document;

  it('finds the AWS calls in the code (the scan itself works)', () => {
    expect(commandsReachableFrom(entryOf('dynamo-sink'))).toContain('dynamodb.PutItem');
    expect(commandsReachableFrom(entryOf('cdc-relay'))).toContain('dynamodb.Scan'); // a paginator
    expect(commandsReachableFrom(entryOf('worker'))).toContain('athena.StartQueryExecution');
    expect(commandsReachableFrom(entryOf('s3-sink'))).toContain('s3.CompleteMultipartUpload');
  });

  it('knows every SDK command src/ sends (the local Glue/Athena endpoint aside)', () => {
    const sentAnywhere = sourceFiles(join(root, 'src'))
      .filter((file) => !relative(root, file).startsWith(join('src', 'lake-endpoint')))
      .flatMap((file) => factsOf(file).commands);
    expect(sorted(new Set(sentAnywhere)).filter((command) => !(command in SDK_COMMANDS))).toEqual([]);
    const reachable = new Set([
      ...processes.flatMap((name) => [...commandsReachableFrom(entryOf(name))]),
      ...commandsReachableFrom('src/cli/main.ts'),
    ]);
    expect(sorted(new Set(sentAnywhere)).filter((command) => !reachable.has(command))).toEqual([]);
  });

  it.each(processes)('declares exactly the commands %s can send', (name) => {
    expect(sorted(declared(PROCESS_ACCESS[name]))).toEqual(sorted(commandsReachableFrom(entryOf(name))));
  });

  it('declares exactly the commands of npm start and the processes it starts', () => {
    const sent = new Set([
      ...commandsReachableFrom('src/cli/main.ts'),
      ...processes.flatMap((name) => [...commandsReachableFrom(entryOf(name))]),
    ]);
    const all = declared([...processes.flatMap((name) => PROCESS_ACCESS[name]), ...MAIN_JOB_ACCESS]);
    expect(sorted(all)).toEqual(sorted(sent));
  });

  it('needs no policy for the generator (it calls Kafka only)', () => {
    expect(sorted(commandsReachableFrom(GENERATOR_PROCESS.entry))).toEqual([]);
  });

  it.each(processes)('grants %s nothing beyond its commands and what AWS does on its behalf', (name) => {
    const needed = new Set(
      [...commandsReachableFrom(entryOf(name))].flatMap((command) => {
        const row: CommandGrant = SDK_COMMANDS[command as SdkCommand];
        return [...row.actions, ...(row.dependent ?? []).flatMap((d) => d.actions)];
      }),
    );
    const granted = doc(name).Statement.flatMap((statement) => statement.Action);
    expect(sorted(new Set(granted.filter((action) => !needed.has(action))))).toEqual([]);
    expect(sorted(needed).filter((action) => !granted.includes(action))).toEqual([]);
  });

  it('grants each process its commands on the configured resources only', () => {
    const orders = config.dynamodb.ordersTable;
    const checkpoints = config.dynamodb.checkpointTable;
    expect(allows(doc('dynamo-sink'), 'dynamodb:PutItem', table(orders))).toBe(true);
    expect(allows(doc('dynamo-sink'), 'dynamodb:PutItem', table(checkpoints))).toBe(false);
    expect(allows(doc('dynamo-sink'), 'dynamodb:PutItem', table('orders'))).toBe(false);

    expect(allows(doc('cdc-relay'), 'dynamodb:UpdateItem', table(checkpoints))).toBe(true);
    expect(allows(doc('cdc-relay'), 'dynamodb:PutItem', table(orders))).toBe(false);
    const stream = `${table(orders)}/stream/2026-12-06T00:00:00.000`;
    expect(allows(doc('cdc-relay'), 'dynamodb:GetRecords', stream)).toBe(true);
    expect(allows(doc('cdc-relay'), 'dynamodb:GetRecords', `${table(checkpoints)}/stream/x`)).toBe(false);

    const cdcKey = 'cdc-data/orders_cdc/dt=2026-12-06/hour=10/orders.cdc+0+0000000000.parquet';
    expect(allows(doc('s3-sink'), 's3:PutObject', object(cdcKey))).toBe(true);
    expect(allows(doc('s3-sink'), 's3:PutObject', object('daily-reports/x.csv'))).toBe(false);
    expect(allows(doc('s3-sink'), 's3:PutObject', `arn:aws:s3:::another-bucket/${cdcKey}`)).toBe(false);
    expect(allows(doc('s3-sink'), 's3:ListBucket', bucket, { 's3:prefix': 'cdc-data/orders_cdc/' })).toBe(
      true,
    );
    expect(allows(doc('s3-sink'), 's3:ListBucket', bucket, { 's3:prefix': 'daily-reports/' })).toBe(false);

    expect(
      allows(doc('worker'), 's3:PutObject', object('table-snapshots/snapshot_id=1/segment=0/part-0.parquet')),
    ).toBe(true);
    expect(allows(doc('worker'), 's3:PutObject', object('daily-reports/r/x.html'))).toBe(true);
    expect(allows(doc('worker'), 's3:PutObject', object('query-results/q.csv'))).toBe(true);
    expect(allows(doc('worker'), 's3:PutObject', object(cdcKey))).toBe(false);
    expect(allows(doc('worker'), 's3:GetObject', object(cdcKey))).toBe(true); // Athena reads the lake
    expect(
      allows(
        doc('worker'),
        'athena:StartQueryExecution',
        `arn:aws:athena:${REGION}:${ACCOUNT}:workgroup/acme-wg`,
      ),
    ).toBe(true);
    expect(
      allows(
        doc('worker'),
        'athena:StartQueryExecution',
        `arn:aws:athena:${REGION}:${ACCOUNT}:workgroup/primary`,
      ),
    ).toBe(false);
    expect(
      allows(doc('worker'), 'glue:StartCrawler', `arn:aws:glue:${REGION}:${ACCOUNT}:crawler/acme-crawler`),
    ).toBe(true);
    expect(
      allows(doc('worker'), 'glue:GetTable', `arn:aws:glue:${REGION}:${ACCOUNT}:table/acme_lake/orders_cdc`),
    ).toBe(true);
    expect(allows(doc('worker'), 'glue:GetTable', `arn:aws:glue:${REGION}:${ACCOUNT}:table/other_db/t`)).toBe(
      false,
    );
    // CREATE OR REPLACE VIEW orders_current runs through Athena, which writes the view's table as the worker.
    const viewArn = `arn:aws:glue:${REGION}:${ACCOUNT}:table/acme_lake/orders_current`;
    expect(allows(doc('worker'), 'glue:CreateTable', viewArn)).toBe(true);
    expect(allows(doc('worker'), 'glue:UpdateTable', viewArn)).toBe(true);
    // Provisioning appends a newer event schema's columns to the CDC table (src/resources/cdc-catalog.ts).
    expect(allows(doc('worker'), 'glue:UpdateTable', cdcTableArnOf('acme_lake'))).toBe(true);
    const compactedKey = 'cdc-data-compacted/orders_cdc/dt=2026-12-06/hour=10/v=1/part-0.parquet';
    const cdcTableArn = cdcTableArnOf('acme_lake');
    // The sink copies a late object from its folder into a compacted version, never elsewhere.
    expect(allows(doc('s3-sink'), 's3:PutObject', object(compactedKey))).toBe(true);
    expect(allows(doc('s3-sink'), 's3:DeleteObject', object(cdcKey))).toBe(false);
    expect(allows(doc('s3-sink'), 'glue:BatchCreatePartition', cdcTableArn)).toBe(true);
    expect(
      allows(
        doc('s3-sink'),
        'glue:BatchCreatePartition',
        `arn:aws:glue:${REGION}:${ACCOUNT}:table/acme_lake/t`,
      ),
    ).toBe(false);
    // Compaction writes versions and deletes what they replaced, in both folders, and repoints partitions.
    expect(allows(doc('worker'), 's3:PutObject', object(compactedKey))).toBe(true);
    expect(allows(doc('worker'), 's3:DeleteObject', object(cdcKey))).toBe(true);
    expect(allows(doc('worker'), 's3:DeleteObject', object(compactedKey))).toBe(true);
    expect(allows(doc('worker'), 's3:DeleteObject', object('daily-reports/x.csv'))).toBe(false);
    // reconcile deletes only its own working objects.
    expect(allows(doc('worker'), 's3:DeleteObject', object('daily-reports/reconcile/r-1/run-0.jsonl'))).toBe(
      true,
    );
    expect(allows(doc('worker'), 'glue:UpdatePartition', cdcTableArn)).toBe(true);
    expect(allows(doc('worker'), 's3:PutLifecycleConfiguration', bucket)).toBe(true);
    expect(allows(doc('worker'), 's3:PutLifecycleConfiguration', 'arn:aws:s3:::another-bucket')).toBe(false);
    const role = `arn:aws:iam::${ACCOUNT}:role/service/acme-crawler-role`;
    expect(allows(doc('worker'), 'iam:PassRole', role, { 'iam:PassedToService': 'glue.amazonaws.com' })).toBe(
      true,
    );
    expect(allows(doc('worker'), 'iam:PassRole', role, { 'iam:PassedToService': 'ec2.amazonaws.com' })).toBe(
      false,
    );
    expect(
      allows(doc('worker'), 'iam:PassRole', `arn:aws:iam::${ACCOUNT}:role/admin`, {
        'iam:PassedToService': 'glue.amazonaws.com',
      }),
    ).toBe(false);
  });

  it('covers the run-scoped names of bounded runs in npm start’s policy, and the continuous ones', () => {
    const main = doc('main');
    expect(allows(main, 'dynamodb:PutItem', table(config.dynamodb.ordersTable))).toBe(true);
    expect(
      allows(main, 'dynamodb:PutItem', table(`${config.dynamodb.ordersTable}-run-20261206t101500`)),
    ).toBe(true);
    expect(allows(main, 's3:PutObject', object('runs/20261206t101500/cdc-data/orders_cdc/x.parquet'))).toBe(
      true,
    );
    expect(allows(main, 's3:PutObject', object('elsewhere/x'))).toBe(false);
  });

  it('names only resources of the configuration, in the account and region; "*" only where AWS requires it, with a note', () => {
    const names = [
      config.dynamodb.ordersTable,
      config.dynamodb.checkpointTable,
      config.lake.bucket,
      config.glue.database,
      config.glue.crawler,
      config.athena.workgroup,
      'acme-crawler-role',
      '/aws-glue/crawlers',
    ];
    for (const policy of policies.values()) {
      for (const statement of policy.document.Statement) {
        for (const resource of statement.Resource ?? []) {
          if (resource === '*') {
            expect(statement.Action.filter((action) => !(action in WILDCARD_ONLY_ACTIONS))).toEqual([]);
            for (const action of statement.Action)
              expect(policy.notes.some((note) => note.includes(action) && note.includes('"*"'))).toBe(true);
            continue;
          }
          const regional = !resource.startsWith('arn:aws:s3:::') && !resource.startsWith('arn:aws:iam::');
          if (regional) expect(resource).toContain(`:${REGION}:${ACCOUNT}:`);
          expect({
            resource,
            named: names.some((name) => resource.includes(name)) || resource.endsWith(':catalog'),
          }).toEqual({
            resource,
            named: true,
          });
        }
      }
    }
  });

  it('gives the crawler role read access to the crawled prefixes and a trust policy for Glue in this account', () => {
    const role = policies.get('orders-pipeline-crawler')!.document;
    expect(allows(role, 's3:GetObject', object('cdc-data/orders_cdc/x.parquet'))).toBe(true);
    expect(allows(role, 's3:GetObject', object('table-snapshots/snapshot_id=1/x.parquet'))).toBe(true);
    expect(allows(role, 's3:GetObject', object('daily-reports/x.csv'))).toBe(false);
    expect(allows(role, 's3:PutObject', object('cdc-data/x'))).toBe(false);
    expect(
      allows(role, 'glue:CreateTable', `arn:aws:glue:${REGION}:${ACCOUNT}:table/acme_lake/orders_cdc`),
    ).toBe(true);
    expect(policies.get('orders-pipeline-crawler-trust')!.document.Statement).toEqual([
      {
        Sid: 'GlueCrawlersOfThisAccount',
        Effect: 'Allow',
        Principal: { Service: 'glue.amazonaws.com' },
        Action: ['sts:AssumeRole'],
        Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
      },
    ]);
  });

  it('keeps no hand-written policy files', () => {
    expect(existsSync(join(root, 'iam'))).toBe(false);
  });
});

describe('npm run pipeline -- iam', () => {
  const env = { ...process.env };
  let errors: string[];
  let outDir: string;
  beforeEach(() => {
    errors = [];
    jest.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    outDir = mkdtempSync(join(tmpdir(), 'iam-'));
  });
  afterEach(() => {
    jest.restoreAllMocks();
    process.env = { ...env };
    rmSync(outDir, { recursive: true, force: true });
  });

  it('writes one JSON policy per file for the configuration in the environment', async () => {
    process.env = {
      ...env,
      ...configToEnv(withOverrides(freshConfig('iamcli'), { lake: { bucket: 'acme-cli-lake' } })),
    };
    const code = await pipelineCli([
      'node',
      'pipeline',
      'iam',
      '--account',
      ACCOUNT,
      '--region',
      REGION,
      '--out-dir',
      outDir,
    ]);
    expect(code).toBe(0);
    expect(sorted(readdirSync(outDir))).toEqual(
      sorted(
        ['dynamo-sink', 'cdc-relay', 's3-sink', 'worker', 'main', 'crawler', 'crawler-trust'].map(
          (name) => `orders-pipeline-${name}.json`,
        ),
      ),
    );
    const sink = JSON.parse(
      readFileSync(join(outDir, 'orders-pipeline-s3-sink.json'), 'utf8'),
    ) as PolicyDocument;
    expect(allows(sink, 's3:PutObject', 'arn:aws:s3:::acme-cli-lake/lake/orders_cdc/x.parquet')).toBe(true);
  });

  it('asks for the account rather than guess it', async () => {
    expect(await pipelineCli(['node', 'pipeline', 'iam', '--region', REGION])).toBe(2);
    expect(errors.join('\n')).toContain('iam: pass --account <12-digit account id>');
  });

  it('refuses an account that is not 12 digits, naming it', async () => {
    expect(await pipelineCli(['node', 'pipeline', 'iam', '--account', '1234', '--region', REGION])).toBe(2);
    expect(errors.join('\n')).toContain('iam: account must be 12 digits, got "1234"');
  });
});

describe('MSK IAM grants (KAFKA_SASL_MECHANISM=aws-msk-iam)', () => {
  const CLUSTER = `arn:aws:kafka:${REGION}:${ACCOUNT}:cluster/acme-msk/0a1b2c3d-4e5f-6789-abcd-ef0123456789-2`;
  const plain = withOverrides(freshConfig('msk'), { kafka: { clientId: 'acme-client' } });
  const msk: Config = {
    ...plain,
    kafka: {
      ...plain.kafka,
      sasl: {
        mechanism: 'aws-msk-iam',
        username: '',
        password: '',
        tokenEndpointUrl: '',
        clientId: '',
        clientSecret: '',
        scope: '',
        awsRegion: '',
      },
    },
  };
  const build = (config: Config, mskClusterArn?: string) =>
    new Map(
      pipelinePolicies(iamContext(config, { account: ACCOUNT, region: REGION }), { mskClusterArn }).map(
        (p) => [p.name, p],
      ),
    );
  const of = (type: string, name: string) =>
    `arn:aws:kafka:${REGION}:${ACCOUNT}:${type}/acme-msk/0a1b2c3d-4e5f-6789-abcd-ef0123456789-2/${name}`;
  const kafkaGrantsOf = (policy: GeneratedPolicy) =>
    Object.fromEntries(
      policy.document.Statement.filter((s) => s.Action.some((a) => a.startsWith('kafka-cluster:'))).map(
        (s) => [(s.Resource ?? []).join(' '), s.Action],
      ),
    );
  const { events, eventsDlq, cdc, cdcDlq } = msk.topics;
  const cluster = CLUSTER;
  const connect = ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster'];
  const connectIdempotent = [...connect, 'kafka-cluster:WriteDataIdempotently'];
  const read = ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'];
  const write = ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'];
  const group = ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'];
  const txn = ['kafka-cluster:AlterTransactionalId', 'kafka-cluster:DescribeTransactionalId'];
  // ensureTopics (src/resources/kafka-topics.ts) on the four pipeline topics: provisioning, and the processes that
  // ensure them at start.
  const allTopics = [events, eventsDlq, cdc, cdcDlq]
    .map((t) => of('topic', t))
    .sort()
    .join(' ');
  const managesTopics = [
    'kafka-cluster:AlterTopic',
    'kafka-cluster:AlterTopicDynamicConfiguration',
    'kafka-cluster:CreateTopic',
    'kafka-cluster:DescribeTopic',
    'kafka-cluster:DescribeTopicDynamicConfiguration',
  ];

  it('derives the group and transactional ids the way src/streaming does', () => {
    expect(dynamoSinkGroup(msk)).toBe(dynamoSinkGroupId(msk));
    expect(s3SinkGroup(msk)).toBe(s3SinkGroupId(msk));
    expect(shardTransactionalId(msk.kafka.clientId, 'lease')).toMatch(
      new RegExp(`^${relayTransactionalIds(msk).replace('*', '')}`),
    );
  });

  it('grants each process exactly its kafka-cluster actions on the ARNs derived from the cluster', () => {
    const policies = build(msk, CLUSTER);
    expect(kafkaGrantsOf(policies.get('orders-pipeline-generator')!)).toEqual({
      [cluster]: connectIdempotent,
      [of('topic', events)]: write,
      [allTopics]: managesTopics,
    });
    expect(kafkaGrantsOf(policies.get('orders-pipeline-dynamo-sink')!)).toEqual({
      [cluster]: connectIdempotent,
      [allTopics]: managesTopics,
      [of('topic', events)]: read,
      [of('group', 'acme-client-dynamo-sink')]: group,
      [of('topic', eventsDlq)]: write,
      [of('transactional-id', 'acme-client-dynamo-sink-dlq-*')]: txn,
    });
    expect(kafkaGrantsOf(policies.get('orders-pipeline-s3-sink')!)).toEqual({
      [cluster]: connectIdempotent,
      [of('topic', cdc)]: read,
      [of('group', 'acme-client-s3-sink')]: group,
      [of('topic', cdcDlq)]: write,
      [of('transactional-id', 'acme-client-s3-sink-dlq-*')]: txn,
    });
    expect(kafkaGrantsOf(policies.get('orders-pipeline-cdc-relay')!)).toEqual({
      [cluster]: connectIdempotent,
      [allTopics]: managesTopics,
      [[of('topic', cdc), of('topic', cdcDlq)].sort().join(' ')]: write,
      [of('transactional-id', 'acme-client-cdc-relay-*')]: txn,
      [of('group', 'acme-client-cdc-relay-*-checkpoint')]: group,
    });
    expect(kafkaGrantsOf(policies.get('orders-pipeline-worker')!)).toEqual({
      [cluster]: connect,
      [allTopics]: managesTopics,
    });
    expect(policies.get('orders-pipeline-cdc-relay')!.notes.join('\n')).toContain('transactional ids');
  });

  it('grants no kafka-cluster action and no generator policy without aws-msk-iam', () => {
    const policies = build(plain, CLUSTER);
    expect(policies.has('orders-pipeline-generator')).toBe(false);
    expect([...policies.values()].flatMap((p) => Object.keys(kafkaGrantsOf(p)))).toEqual([]);
  });

  it('fails naming --msk-cluster-arn when it is missing or malformed', () => {
    expect(() => build(msk)).toThrow(/pass --msk-cluster-arn/);
    expect(() => build(msk, `arn:aws:kafka:${REGION}:${ACCOUNT}:topic/acme-msk/uuid/t`)).toThrow(
      /--msk-cluster-arn must be arn:aws:kafka:<region>:<account>:cluster\/<name>\/<uuid>, got/,
    );
  });
});
