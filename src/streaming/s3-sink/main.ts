/**
 * Entry point of the S3 sink process: `tsx src/streaming/s3-sink/main.ts` (env: see src/config ENV_SPEC).
 */
import { runStreamingProcess } from '../process';
import { createS3Sink } from './s3-sink';

runStreamingProcess('s3-sink', ({ config, logger, registry }) =>
  createS3Sink({
    config,
    logger,
    registry,
    // kafkajs gave up for good: exit non-zero (a dead consumer in a live process would look healthy); a restart
    // resumes from the committed offsets.
    onFatal: (error) => {
      logger.fatal({ error: error.message }, 'consumer cannot recover: exiting');
      process.exit(1);
    },
  }),
);
