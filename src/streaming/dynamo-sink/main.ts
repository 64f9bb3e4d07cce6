/**
 * The DynamoDB sink process: `tsx src/streaming/dynamo-sink/main.ts` (configured by the environment, see
 * src/config). Ensures its topics and table exist (idempotent), then consumes until SIGTERM/SIGINT.
 */
import { createAwsClients, destroyAwsClients } from '../../aws/clients';
import { ensureOrdersTable } from '../../resources/dynamodb-tables';
import { ensureTopics, pipelineTopics } from '../../resources/kafka-topics';
import { runStreamingProcess } from '../process-context';
import { createDynamoSink } from './dynamo-sink';

runStreamingProcess(
  'dynamo-sink',
  async ({ config, logger, registry, kafka: watchedKafka, exitUnrecoverable }) => {
    const kafka = watchedKafka('dynamo-sink');
    const aws = createAwsClients(config);
    const { dynamodb } = aws;
    await ensureTopics(kafka.admin(), pipelineTopics(config));
    await ensureOrdersTable(dynamodb, config);
    const sink = createDynamoSink({ config, kafka, dynamodb, logger, registry, onFatal: exitUnrecoverable });
    return {
      start: () => sink.start(),
      stop: async () => {
        await sink.stop();
        destroyAwsClients(aws);
      },
    };
  },
);
