/**
 * The CDC relay process: `tsx src/streaming/cdc-relay/main.ts` (configured by the environment, see
 * src/config). Ensures its topics and tables exist (idempotent), then relays until SIGTERM/SIGINT.
 * Run several for failover and to share shards; give each its own CDC_WORKER_ID or leave it empty.
 */
import { createAwsClients, destroyAwsClients } from '../../aws/clients';
import { ensureCheckpointTable, ensureOrdersTable } from '../../resources/dynamodb-tables';
import { ensureTopics, pipelineTopics } from '../../resources/kafka-topics';
import { runStreamingProcess } from '../process-context';
import { createCdcRelay } from './cdc-relay';

runStreamingProcess('cdc-relay', async ({ config, logger, registry, kafka: watchedKafka }) => {
  const kafka = watchedKafka('cdc-relay');
  const aws = createAwsClients(config);
  await ensureTopics(kafka.admin(), pipelineTopics(config));
  await ensureOrdersTable(aws.dynamodb, config);
  await ensureCheckpointTable(aws.dynamodb, config);
  const relay = createCdcRelay({
    config,
    kafka,
    dynamodb: aws.dynamodb,
    dynamodbStreams: aws.dynamodbStreams,
    logger,
    registry,
  });
  return {
    start: () => relay.start(),
    readiness: () => relay.readiness(),
    stop: async () => {
      await relay.stop();
      destroyAwsClients(aws);
    },
  };
});
