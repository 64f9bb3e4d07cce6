/**
 * The `kafka-cluster:*` grants of MSK with IAM authentication (KAFKA_SASL_MECHANISM=aws-msk-iam), per process, on
 * ARNs derived from the cluster's ARN (AWS: "Semantics of IAM authorization policy actions and resources" for MSK).
 * Each action comes with the actions MSK requires beside it (ReadData needs DescribeTopic and AlterGroup, WriteData
 * needs DescribeTopic, AlterTransactionalId needs DescribeTransactionalId and WriteData).
 */
import type { Config } from '../../config';
import type { IamTarget } from './targets';

/** Bad MSK input for a policy: the CLI turns it into exit code 2. */
export class MskInputError extends Error {}

export interface MskCluster {
  /** `arn:<partition>:kafka:<region>:<account>` */
  base: string;
  /** `<name>/<uuid>` */
  id: string;
}

const CLUSTER_ARN =
  /^(arn:aws(?:-cn|-us-gov)?:kafka:[a-z]{2}(?:-gov)?-[a-z]+-\d:\d{12}):cluster\/([^/\s]+\/[^/\s]+)$/;

export function parseMskClusterArn(arn: string | undefined): MskCluster {
  if (!arn)
    throw new MskInputError(
      'KAFKA_SASL_MECHANISM=aws-msk-iam: pass --msk-cluster-arn <arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>>',
    );
  const match = CLUSTER_ARN.exec(arn);
  if (!match)
    throw new MskInputError(
      `--msk-cluster-arn must be arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>, got "${arn}"`,
    );
  return { base: match[1], id: match[2] };
}

export type KafkaProcessName = 'generator' | 'dynamo-sink' | 'cdc-relay' | 's3-sink' | 'worker';

export interface KafkaGrant {
  actions: string[];
  target: IamTarget;
  note?: string;
}

// The consumer groups and transactional ids as src/streaming derives them (dynamoSinkGroupId, s3SinkGroupId,
// shardTransactionalId, the DLQ's `${groupId}-dlq-…`); that layer comes after this one, so the test compares them.
export const dynamoSinkGroup = (config: Config) => `${config.kafka.clientId}-dynamo-sink`;
export const s3SinkGroup = (config: Config) => `${config.kafka.clientId}-s3-sink`;
export const relayTransactionalIds = (config: Config) => `${config.kafka.clientId}-cdc-relay-*`;
export const dlqTransactionalIds = (groupId: string) => `${groupId}-dlq-*`;

const PREFIX_NOTE =
  'kafka-cluster transactional ids and relay checkpoint groups end in "*": they carry a shard hash or a topic-partition known only at run time';

export function kafkaGrants(config: Config, cluster: MskCluster, process: KafkaProcessName): KafkaGrant[] {
  const at = (kind: IamTarget['kind'], type: string, names: string[]): IamTarget => ({
    kind,
    arns: names.map((name) => `${cluster.base}:${type}/${cluster.id}/${name}`),
  });
  const clusterArn: IamTarget = { kind: 'kafkaCluster', arns: [`${cluster.base}:cluster/${cluster.id}`] };
  const topics = (...names: string[]) => at('kafkaTopic', 'topic', names);
  const groups = (...names: string[]) => at('kafkaGroup', 'group', names);
  const transactionalIds = (...names: string[]) => at('kafkaTransactionalId', 'transactional-id', names);
  const { events, eventsDlq, cdc, cdcDlq } = config.topics;
  const connect: KafkaGrant = {
    actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster'],
    target: clusterArn,
  };
  const idempotent: KafkaGrant = { actions: ['kafka-cluster:WriteDataIdempotently'], target: clusterArn };
  const consumes = (topic: string, group: string): KafkaGrant[] => [
    { actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'], target: topics(topic) },
    { actions: ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'], target: groups(group) },
  ];
  const produces = (...names: string[]): KafkaGrant => ({
    actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
    target: topics(...names),
  });
  const transacts = (pattern: string): KafkaGrant => ({
    actions: ['kafka-cluster:AlterTransactionalId', 'kafka-cluster:DescribeTransactionalId'],
    target: transactionalIds(pattern),
    note: PREFIX_NOTE,
  });
  // src/resources/kafka-topics.ts ensureTopics: creates missing pipeline topics, adds partitions, aligns configs.
  // Provisioning runs it, and so do the generator, the DynamoDB sink and the relay at start (so each can start
  // before provisioning): each needs it on the four pipeline topics.
  const managesTopics: KafkaGrant = {
    actions: [
      'kafka-cluster:AlterTopic',
      'kafka-cluster:AlterTopicDynamicConfiguration',
      'kafka-cluster:CreateTopic',
      'kafka-cluster:DescribeTopic',
      'kafka-cluster:DescribeTopicDynamicConfiguration',
    ],
    target: topics(events, eventsDlq, cdc, cdcDlq),
  };
  switch (process) {
    case 'generator':
      return [connect, idempotent, produces(events), managesTopics];
    case 'dynamo-sink':
      return [
        connect,
        idempotent,
        managesTopics,
        ...consumes(events, dynamoSinkGroup(config)),
        produces(eventsDlq),
        transacts(dlqTransactionalIds(dynamoSinkGroup(config))),
      ];
    case 's3-sink':
      return [
        connect,
        idempotent,
        ...consumes(cdc, s3SinkGroup(config)),
        produces(cdcDlq),
        transacts(dlqTransactionalIds(s3SinkGroup(config))),
      ];
    case 'cdc-relay':
      return [
        connect,
        idempotent,
        managesTopics,
        produces(cdc, cdcDlq),
        transacts(relayTransactionalIds(config)),
        // The relay's position is the offsets its transactions commit to a per-shard group, read back on take-over.
        {
          actions: ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'],
          target: groups(`${relayTransactionalIds(config)}-checkpoint`),
          note: PREFIX_NOTE,
        },
      ];
    case 'worker':
      return [connect, managesTopics];
  }
}
