/**
 * The compact live status of `npm start`: built from each process's Prometheus endpoint (what an operator
 * would scrape) plus the crawler's LastCrawl, the newest local report and the last reconcile run's result (from
 * Temporal: the worker that ran it may be anywhere).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GetCrawlerCommand, type GlueClient } from '@aws-sdk/client-glue';
import type { Client } from '@temporalio/client';
import type { Config } from '../../config';
import type { ReconcileResult } from '../../contract/types';
import { scrapeMetrics, type MetricTotals } from '../../observability/metrics-scrape';
import { describeReconcile } from '../shared/output';

export interface ProcessEndpoint {
  name: string;
  metricsUrl: string;
}

export interface StatusSnapshot {
  at: Date;
  perProcess: Map<string, MetricTotals | undefined>;
  lastCrawl?: string;
  lastReport?: string;
  lastReconcile?: string;
}

const get = (totals: MetricTotals | undefined, name: string): number | undefined => totals?.get(name);

function fmt(value: number | undefined): string {
  return value === undefined ? '—' : Math.round(value).toLocaleString('en-US');
}

/** The newest HTML report under <dataDir>/reports, if any. */
export function latestLocalReport(config: Config): string | undefined {
  const dir = join(config.dataDir, 'reports');
  let newest: { path: string; mtime: number } | undefined;
  const walk = (path: string) => {
    let entries: string[];
    try {
      entries = readdirSync(path);
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = join(path, entry);
      const stat = statSync(full);
      if (stat.isDirectory()) walk(full);
      else if (entry.endsWith('.html') && (!newest || stat.mtimeMs > newest.mtime))
        newest = { path: full, mtime: stat.mtimeMs };
    }
  };
  walk(dir);
  return newest?.path;
}

/** The newest completed reconcile run on the config's task queue, as the first line of its description. */
export async function lastReconcile(client: Client, config: Config): Promise<string> {
  const query = `WorkflowType = 'reconcile' AND ExecutionStatus = 'Completed' AND TaskQueue = '${config.temporal.taskQueue}'`;
  try {
    for await (const run of client.workflow.list({ query, pageSize: 1 })) {
      const result = (await client.workflow.getHandle(run.workflowId, run.runId).result()) as ReconcileResult;
      const at = run.closeTime?.toISOString().slice(11, 19) ?? '?';
      return `${describeReconcile(result).split('\n')[0]} (at ${at})`;
    }
    return 'none yet';
  } catch (error) {
    return `unavailable (${(error as Error).name})`;
  }
}

export async function takeSnapshot(
  config: Config,
  glue: GlueClient,
  processes: ProcessEndpoint[],
  temporal?: Client,
): Promise<StatusSnapshot> {
  const scraped = await Promise.all(
    processes.map(async (p) => [p.name, await scrapeMetrics(p.metricsUrl)] as const),
  );
  let lastCrawl: string | undefined;
  try {
    const crawler = (await glue.send(new GetCrawlerCommand({ Name: config.glue.crawler }))).Crawler;
    const last = crawler?.LastCrawl;
    lastCrawl = last
      ? `${last.Status} at ${last.StartTime?.toISOString().slice(11, 19) ?? '?'}${last.ErrorMessage ? ` (${last.ErrorMessage})` : ''}, now ${crawler?.State}`
      : `none yet (${crawler?.State ?? 'no crawler'})`;
  } catch (error) {
    lastCrawl = `unavailable (${(error as Error).name})`;
  }
  return {
    at: new Date(),
    perProcess: new Map(scraped),
    lastCrawl,
    lastReport: latestLocalReport(config),
    ...(temporal ? { lastReconcile: await lastReconcile(temporal, config) } : {}),
  };
}

/** A few lines, the same every time, so a terminal can redraw them in place. */
export function renderStatus(snapshot: StatusSnapshot): string[] {
  const m = (process: string, metric: string) => get(snapshot.perProcess.get(process), metric);
  const down = [...snapshot.perProcess.entries()].filter(([, totals]) => !totals).map(([name]) => name);
  return [
    `── pipeline status ${snapshot.at.toISOString().slice(11, 19)} UTC ${down.length ? `(not answering: ${down.join(', ')})` : ''}`,
    `  events produced ${fmt(m('generator', 'generator_messages_sent_total'))}` +
      ` │ DynamoDB writes ${fmt(m('dynamo-sink', 'dynamo_sink_applied_total'))}` +
      ` │ stale skips ${fmt(m('dynamo-sink', 'dynamo_sink_stale_skips_total'))}` +
      ` │ sink lag ${fmt(m('dynamo-sink', 'dynamo_sink_consumer_lag'))}` +
      ` │ DLQ ${fmt((m('dynamo-sink', 'dynamo_sink_dlq_total') ?? 0) + (m('s3-sink', 's3_sink_dlq_total') ?? 0))}`,
    `  CDC records ${fmt(m('cdc-relay', 'cdc_relay_records_published_total'))}` +
      ` │ S3 objects ${fmt(m('s3-sink', 's3_sink_objects_written_total'))}` +
      ` │ S3 records ${fmt(m('s3-sink', 's3_sink_records_out_total'))}` +
      ` │ S3 sink lag ${fmt(m('s3-sink', 's3_sink_consumer_lag'))}`,
    `  last crawl: ${snapshot.lastCrawl ?? '—'}`,
    `  last report: ${snapshot.lastReport ?? 'none yet'}`,
    `  last reconcile: ${snapshot.lastReconcile ?? '—'}`,
  ];
}
