/**
 * Least-privilege IAM policies for one configuration: one per process that calls AWS, one for `npm start` running
 * everything on one machine, and the Glue crawler's role (its permissions and its trust policy). Every resource is
 * an ARN of a configured name in the given account and region; `"*"` appears only for actions AWS authorizes on
 * `"*"` alone, and each such grant comes with a note saying why.
 *
 * @example
 *   const ctx = iamContext(loadConfig(), { account: '123456789012', region: 'eu-west-1' });
 *   for (const policy of pipelinePolicies(ctx)) console.log(policy.name, JSON.stringify(policy.document));
 */
import type { Config } from '../../config';
import { kafkaGrants, parseMskClusterArn, type KafkaProcessName } from './kafka-access';
import { MAIN_JOB_ACCESS, PROCESS_ACCESS, type AwsProcessName, type CommandUse } from './process-access';
import { SDK_COMMANDS, WILDCARD_ONLY_ACTIONS, type CommandGrant } from './sdk-actions';
import {
  catalogTables,
  crawledPrefixes,
  lakeBucket,
  listing,
  objects,
  partitionOf,
  type IamContext,
  type IamTarget,
  type PolicyCondition,
} from './targets';

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Principal?: { Service: string };
  Action: string[];
  Resource?: string[];
  Condition?: PolicyCondition;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

export interface GeneratedPolicy {
  /** `orders-pipeline-<process>`, `orders-pipeline-crawler` or `orders-pipeline-crawler-trust`. */
  name: string;
  /** Who gets it. */
  attachTo: string;
  document: PolicyDocument;
  /** Why a grant is there although the holder never sends it, and why a resource is `"*"`. */
  notes: string[];
}

/** Bad account or region for a policy: the CLI turns it into exit code 2. */
export class IamInputError extends Error {}

const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;

/**
 * The context every ARN is built from. The crawler's role keeps GLUE_CRAWLER_ROLE's name (and path) in `account`.
 */
export function iamContext(config: Config, where: { account: string; region: string }): IamContext {
  if (!ACCOUNT.test(where.account))
    throw new IamInputError(`account must be 12 digits, got "${where.account}"`);
  if (!REGION.test(where.region))
    throw new IamInputError(`region must be an AWS region such as eu-west-1, got "${where.region}"`);
  const role = /^arn:[a-z-]+:iam::\d{12}:(role\/.+)$/.exec(config.glue.crawlerRole);
  if (!role)
    throw new IamInputError(
      `GLUE_CRAWLER_ROLE must be a role ARN (arn:aws:iam::<account>:role/<name>), got "${config.glue.crawlerRole}"`,
    );
  const partition = partitionOf(where.region);
  return {
    config,
    ...where,
    partition,
    crawlerRoleArn: `arn:${partition}:iam::${where.account}:${role[1]}`,
  };
}

interface Grant {
  actions: string[];
  target: IamTarget;
  note?: string;
}

function grantsOf(uses: CommandUse[], ctx: IamContext): Grant[] {
  return uses.flatMap((use) => {
    const target = use.on(ctx);
    return use.commands.flatMap((command) => {
      const row: CommandGrant = SDK_COMMANDS[command];
      if (row.kind !== target.kind)
        throw new Error(`${command} acts on a ${row.kind}, but its use points at a ${target.kind}`);
      return [
        { actions: row.actions, target },
        ...(row.dependent ?? []).map((dependent) => ({
          actions: dependent.actions,
          target: dependent.on(ctx),
          note: `${dependent.actions.join(', ')}: ${dependent.why}`,
        })),
      ];
    });
  });
}

const SID_OF_KIND: Record<IamTarget['kind'], string> = {
  table: 'Tables',
  stream: 'Streams',
  bucket: 'Bucket',
  listing: 'ListPrefixes',
  objects: 'Objects',
  database: 'Catalog',
  glueTable: 'CdcTable',
  crawler: 'Crawler',
  workgroup: 'Workgroup',
  role: 'PassCrawlerRole',
  logGroup: 'CrawlerLogs',
  kafkaCluster: 'KafkaCluster',
  kafkaTopic: 'KafkaTopics',
  kafkaGroup: 'KafkaGroups',
  kafkaTransactionalId: 'KafkaTransactionalIds',
};

/** One statement per distinct (resources, condition), actions merged and sorted; `*`-only actions on their own. */
function statementsOf(grants: Grant[]): { statements: PolicyStatement[]; notes: string[] } {
  const byResources = new Map<string, PolicyStatement>();
  const notes = new Set<string>();
  const wildcard = new Set<string>();
  for (const grant of grants) {
    if (grant.note) notes.add(grant.note);
    const scoped = grant.actions.filter((action) => !(action in WILDCARD_ONLY_ACTIONS));
    for (const action of grant.actions.filter((a) => a in WILDCARD_ONLY_ACTIONS)) {
      wildcard.add(action);
      notes.add(`Resource "*" for ${action}: ${WILDCARD_ONLY_ACTIONS[action]}`);
    }
    if (scoped.length === 0) continue;
    const arns = [...new Set(grant.target.arns)].sort();
    const key = JSON.stringify([arns, grant.target.condition ?? null]);
    const statement = byResources.get(key) ?? {
      Sid: SID_OF_KIND[grant.target.kind],
      Effect: 'Allow',
      Action: [],
      Resource: arns,
      ...(grant.target.condition ? { Condition: grant.target.condition } : {}),
    };
    statement.Action = [...new Set([...statement.Action, ...scoped])].sort();
    byResources.set(key, statement);
  }
  const statements = [...byResources.values()];
  if (wildcard.size > 0)
    statements.push({
      Sid: 'ActionsWithoutResourceTypes',
      Effect: 'Allow',
      Action: [...wildcard].sort(),
      Resource: ['*'],
    });
  // Sids are unique within a policy.
  const seen = new Map<string, number>();
  for (const statement of statements) {
    const count = (seen.get(statement.Sid) ?? 0) + 1;
    seen.set(statement.Sid, count);
    if (count > 1) statement.Sid = `${statement.Sid}${count}`;
  }
  return { statements, notes: [...notes] };
}

function policy(name: string, attachTo: string, grants: Grant[]): GeneratedPolicy {
  const { statements, notes } = statementsOf(grants);
  return { name, attachTo, document: { Version: '2012-10-17', Statement: statements }, notes };
}

/** The permissions of the crawler's role: read the crawled prefixes, write the catalog, write its logs. */
function crawlerRolePolicy(ctx: IamContext): GeneratedPolicy {
  const logs: IamTarget = {
    kind: 'logGroup',
    arns: [`arn:${ctx.partition}:logs:${ctx.region}:${ctx.account}:log-group:/aws-glue/crawlers*`],
  };
  return policy('orders-pipeline-crawler', `the role ${ctx.crawlerRoleArn} (GLUE_CRAWLER_ROLE)`, [
    { actions: ['s3:GetObject'], target: objects(crawledPrefixes)(ctx) },
    { actions: ['s3:ListBucket'], target: listing(crawledPrefixes)(ctx) },
    { actions: ['s3:GetBucketLocation'], target: lakeBucket(ctx) },
    {
      actions: [
        'glue:GetDatabase',
        'glue:GetTable',
        'glue:GetTables',
        'glue:CreateTable',
        'glue:UpdateTable',
        'glue:GetPartitions',
        'glue:BatchGetPartition',
        'glue:BatchCreatePartition',
        'glue:BatchUpdatePartition',
      ],
      target: catalogTables(ctx),
    },
    { actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], target: logs },
  ]);
}

/** Only Glue, for this account's crawlers, may assume the crawler's role. */
function crawlerTrustPolicy(ctx: IamContext): GeneratedPolicy {
  return {
    name: 'orders-pipeline-crawler-trust',
    attachTo: `the trust policy of ${ctx.crawlerRoleArn}`,
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'GlueCrawlersOfThisAccount',
          Effect: 'Allow',
          Principal: { Service: 'glue.amazonaws.com' },
          Action: ['sts:AssumeRole'],
          Condition: { StringEquals: { 'aws:SourceAccount': ctx.account } },
        },
      ],
    },
    notes: ['aws:SourceAccount keeps another account’s Glue from assuming the role (confused deputy)'],
  };
}

const ATTACH_TO: Record<AwsProcessName, string> = {
  'dynamo-sink': 'the DynamoDB sink (src/streaming/dynamo-sink/main.ts)',
  'cdc-relay': 'the CDC relay (src/streaming/cdc-relay/main.ts)',
  's3-sink': 'the S3 sink (src/streaming/s3-sink/main.ts)',
  worker: 'the control-plane worker (src/workers/control-plane-worker.ts)',
};

export interface PipelinePoliciesOptions {
  /**
   * The configuration of `npm start -- --duration` runs, with `*` for the run id: `npm start`'s policy also
   * covers their run-scoped tables, prefixes, database and crawler.
   */
  boundedRunConfig?: Config;
  /** The MSK cluster's ARN: required when KAFKA_SASL_MECHANISM=aws-msk-iam, for its `kafka-cluster:*` grants. */
  mskClusterArn?: string;
}

/** Every policy of the pipeline for this context, in the order a deployment creates them. */
export function pipelinePolicies(ctx: IamContext, options: PipelinePoliciesOptions = {}): GeneratedPolicy[] {
  const cluster =
    ctx.config.kafka.sasl?.mechanism === 'aws-msk-iam'
      ? parseMskClusterArn(options.mskClusterArn)
      : undefined;
  const kafka = (name: KafkaProcessName): Grant[] => (cluster ? kafkaGrants(ctx.config, cluster, name) : []);
  const processes = Object.keys(PROCESS_ACCESS) as AwsProcessName[];
  const perProcess = processes.map((name) =>
    policy(`orders-pipeline-${name}`, ATTACH_TO[name], [
      ...grantsOf(PROCESS_ACCESS[name], ctx),
      ...kafka(name),
    ]),
  );
  // The generator calls Kafka only: it needs a policy for MSK IAM alone.
  const generator = cluster
    ? [
        policy(
          'orders-pipeline-generator',
          'the generator (src/streaming/generator/main.ts)',
          kafka('generator'),
        ),
      ]
    : [];
  const everything = [...processes.flatMap((name) => PROCESS_ACCESS[name]), ...MAIN_JOB_ACCESS];
  const contexts = [ctx, ...(options.boundedRunConfig ? [{ ...ctx, config: options.boundedRunConfig }] : [])];
  const main = policy(
    'orders-pipeline-main',
    '`npm start` in AWS mode (every process on one machine, for a trial)',
    [
      ...contexts.flatMap((each) => grantsOf(everything, each)),
      ...(['generator', ...processes] as KafkaProcessName[]).flatMap(kafka),
    ],
  );
  return [...generator, ...perProcess, main, crawlerRolePolicy(ctx), crawlerTrustPolicy(ctx)];
}
