/**
 * `resolveDefaults`: the worker's configuration as the workflows need it. Workflow code cannot read the
 * environment (it must be deterministic), so a workflow started with `{}` asks its worker through this local
 * activity; the answer is recorded in the history, so a replay sees the same defaults.
 */
import type { Client } from '@temporalio/client';
import { CDC_TABLE_FOLDER, type Config } from '../config';
import { hasPipelineSearchAttributes } from '../resources/search-attributes';
import type { ControlPlaneDefaults } from '../contract/types';
import { listReports, REPORTS_DIR } from './report-catalog';

export function createDefaultsActivities(deps: { config: Config; reportsDir?: string; temporal?: Client }) {
  const { config } = deps;
  // Asked on every call (one cheap RPC per run): provisioning may have registered them a moment ago.
  const searchAttributes = async (): Promise<boolean> =>
    deps.temporal ? hasPipelineSearchAttributes(deps.temporal.connection, config.temporal.namespace) : false;
  return {
    async resolveDefaults(): Promise<ControlPlaneDefaults> {
      return {
        crawler: config.glue.crawler,
        database: config.glue.database,
        cdcTable: CDC_TABLE_FOLDER,
        workgroup: config.athena.workgroup,
        bucket: config.lake.bucket,
        ordersTable: config.dynamodb.ordersTable,
        snapshotPrefix: config.lake.snapshotPrefix,
        reportsPrefix: config.lake.reportsPrefix,
        taskQueue: config.temporal.taskQueue,
        reports: listReports(deps.reportsDir ?? REPORTS_DIR),
        crawlIntervalMinutes: config.schedules.crawlIntervalMinutes,
        reportIntervalMinutes: config.schedules.reportIntervalMinutes,
        reconcileFreshnessSeconds: config.schedules.reconcileFreshnessSeconds,
        searchAttributes: await searchAttributes(),
      };
    },
  };
}

export type DefaultsActivities = ReturnType<typeof createDefaultsActivities>;
