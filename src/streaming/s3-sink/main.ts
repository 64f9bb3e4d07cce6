/**
 * Entry point of the S3 sink process: `tsx src/streaming/s3-sink/main.ts` (env: see src/config ENV_SPEC).
 */
import { runStreamingProcess } from '../process-context';
import { createS3Sink } from './s3-sink';

runStreamingProcess('s3-sink', ({ config, logger, registry, kafka, exitUnrecoverable }) =>
  createS3Sink({ config, kafka: kafka('s3-sink'), logger, registry, onFatal: exitUnrecoverable }),
);
