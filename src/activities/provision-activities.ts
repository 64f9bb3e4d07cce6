/**
 * Provisioning activities: each ensures one kind of resource with the idempotent ensure functions in
 * src/resources and reports what it did (created / updated / exists). Safe to retry and to run twice.
 */
import type { AthenaClient } from '@aws-sdk/client-athena';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { GlueClient } from '@aws-sdk/client-glue';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import type { Kafka } from 'kafkajs';
import type { Config } from '../config';
import type { Logger } from '../observability/logger';
import { ensureWorkgroup } from '../resources/athena';
import { ensureCheckpointTable, ensureOrdersTable } from '../resources/dynamodb-tables';
import { ensureCdcTable } from '../resources/cdc-catalog';
import { ensureLakeCrawler, ensureGlueDatabase } from '../resources/glue';
import { ensureTopics, pipelineTopics } from '../resources/kafka-topics';
import type { EnsureOutcome } from '../contract/outcome';
import { CurrentViewError, ensureOrdersCurrentView } from '../resources/orders-current-view';
import { ensureBucket } from '../resources/s3-bucket';
import { ensureControlSchedules } from '../resources/schedules';
import {
  ensureSearchAttributes,
  hasPipelineSearchAttributes,
  SearchAttributesUnavailableError,
} from '../resources/search-attributes';
import { permanentFailure, withAwsErrors } from './errors';
import { FailureType } from '../contract/failure-types';

export interface ProvisionDeps {
  config: Config;
  dynamodb: DynamoDBClient;
  s3: S3Client;
  glue: GlueClient;
  athena: AthenaClient;
  kafka: Kafka;
  /** For the schedules and the namespace's search attributes. */
  temporal: Client;
  logger: Logger;
}

/** Existing resources that contradict the spec (e.g. a table with another key) need a human: no retry. */
function conflicts(error: unknown): never {
  const message = (error as Error).message ?? String(error);
  if (/exists with|has a .* stream|expected/.test(message))
    throw permanentFailure(FailureType.ResourceConflict, message);
  throw error;
}

export function createProvisionActivities(deps: ProvisionDeps) {
  const { config, logger } = deps;
  const log = (outcomes: EnsureOutcome[]) => {
    for (const o of outcomes)
      logger.info({ kind: o.kind, name: o.name, action: o.action, detail: o.detail }, 'ensured');
    return outcomes;
  };
  return {
    async ensureKafkaTopics(): Promise<EnsureOutcome[]> {
      try {
        return log(await ensureTopics(deps.kafka.admin(), pipelineTopics(config)));
      } catch (error) {
        // kafkajs marks transient errors `retriable`; the activity retry policy handles those.
        if ((error as { retriable?: boolean }).retriable === false) {
          throw permanentFailure(FailureType.KafkaError, `kafka topics: ${(error as Error).message}`);
        }
        throw error;
      }
    },

    async ensureDynamoTables(): Promise<EnsureOutcome[]> {
      const outcomes = await withAwsErrors('dynamodb.ensureTables', () =>
        Promise.all([
          ensureOrdersTable(deps.dynamodb, config),
          ensureCheckpointTable(deps.dynamodb, config),
        ]).catch(conflicts),
      );
      return log(outcomes);
    },

    async ensureLakeBucket(): Promise<EnsureOutcome[]> {
      return log([await withAwsErrors('s3.ensureBucket', () => ensureBucket(deps.s3, config))]);
    },

    async ensureGlueCatalog(): Promise<EnsureOutcome[]> {
      const database = await withAwsErrors('glue.ensureDatabase', () =>
        ensureGlueDatabase(deps.glue, config),
      );
      const table = await withAwsErrors('glue.ensureCdcTable', () => ensureCdcTable(deps.glue, config));
      const crawler = await withAwsErrors('glue.ensureCrawler', () => ensureLakeCrawler(deps.glue, config));
      return log([database, table, crawler]);
    },

    async ensureAthenaWorkgroup(): Promise<EnsureOutcome[]> {
      return log([await withAwsErrors('athena.ensureWorkgroup', () => ensureWorkgroup(deps.athena, config))]);
    },

    /** The orders_current view, through Athena: needs the CDC table and the workgroup first. */
    async ensureCurrentView(): Promise<EnsureOutcome[]> {
      return log([
        await withAwsErrors('athena.ensureOrdersCurrentView', () =>
          ensureOrdersCurrentView(deps.athena, deps.glue, config).catch((error: unknown) => {
            if (error instanceof CurrentViewError && !error.retriable)
              throw permanentFailure(FailureType.QueryFailed, error.message);
            return conflicts(error);
          }),
        ),
      ]);
    },

    /**
     * Registers the search attributes when the namespace allows it, then creates/updates the schedules with
     * them (or with the memo only). Intervals default to the worker's configuration.
     */
    async ensureSchedules(input: {
      crawlIntervalMinutes?: number;
      reportIntervalMinutes?: number;
    }): Promise<EnsureOutcome[]> {
      const { connection } = deps.temporal;
      const namespace = config.temporal.namespace;
      let attributes: EnsureOutcome[] = [];
      try {
        attributes = await ensureSearchAttributes(connection, namespace);
      } catch (error) {
        if (!(error instanceof SearchAttributesUnavailableError)) throw error;
        logger.warn({ namespace, err: error }, 'search attributes unavailable: runs carry the memo only');
      }
      const searchAttributes = await hasPipelineSearchAttributes(connection, namespace);
      const schedules = await ensureControlSchedules(deps.temporal, config, { ...input, searchAttributes });
      return log([...attributes, ...schedules]);
    },
  };
}

export type ProvisionActivities = ReturnType<typeof createProvisionActivities>;
