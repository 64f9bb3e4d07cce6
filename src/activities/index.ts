/**
 * All control-plane activities from their factories, for the worker. Workflows import the factory *types* from
 * the individual files (never this module's values): activity code never enters the workflow bundle.
 */
import type { Client } from '@temporalio/client';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { AwsClients } from '../aws/clients';
import type { Config } from '../config';
import { createLogger, type Logger } from '../observability/logger';
import { createBackfillActivities } from './backfill-activities';
import { createCompactionActivities } from './compaction-activities';
import { createCrawlerActivities } from './crawler-activities';
import { createDefaultsActivities } from './defaults-activities';
import { createProvisionActivities } from './provision-activities';
import { createQueryActivities } from './query-activities';
import { createReconcileActivities } from './reconcile-activities';
import { createReportActivities } from './report-activities';

export interface ControlPlaneActivityDeps {
  config: Config;
  aws: AwsClients;
  kafka: Kafka;
  temporal: Client;
  logger?: Logger;
  /** Directory of the report SQL files (default: `reports/` at the repository root). */
  reportsDir?: string;
  /** The worker's metrics registry (the last reconciliation's result is exported there). */
  metrics?: Registry;
}

export function createControlPlaneActivities(deps: ControlPlaneActivityDeps) {
  const { config, aws } = deps;
  const logger = deps.logger ?? createLogger('control-plane-activities', config);
  return {
    ...createDefaultsActivities({ config, reportsDir: deps.reportsDir, temporal: deps.temporal }),
    ...createProvisionActivities({
      config,
      dynamodb: aws.dynamodb,
      s3: aws.s3,
      glue: aws.glue,
      athena: aws.athena,
      kafka: deps.kafka,
      temporal: deps.temporal,
      logger: logger.child({ activities: 'provision' }),
    }),
    ...createCrawlerActivities({ glue: aws.glue, config, logger: logger.child({ activities: 'crawler' }) }),
    ...createQueryActivities({ athena: aws.athena, config, logger: logger.child({ activities: 'query' }) }),
    ...createReportActivities({
      athena: aws.athena,
      s3: aws.s3,
      config,
      logger: logger.child({ activities: 'report' }),
      reportsDir: deps.reportsDir,
    }),
    ...createBackfillActivities({
      dynamodb: aws.dynamodb,
      s3: aws.s3,
      config,
      logger: logger.child({ activities: 'backfill' }),
    }),
    ...createCompactionActivities({
      s3: aws.s3,
      glue: aws.glue,
      config,
      logger: logger.child({ activities: 'compaction' }),
    }),
    ...createReconcileActivities({
      dynamodb: aws.dynamodb,
      s3: aws.s3,
      athena: aws.athena,
      config,
      logger: logger.child({ activities: 'reconcile' }),
      metrics: deps.metrics,
    }),
  };
}

export type ControlPlaneActivities = ReturnType<typeof createControlPlaneActivities>;
