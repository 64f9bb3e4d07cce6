/**
 * Glue crawlers: definitions (Create/Get/Update/Delete, GetCrawlers, ListCrawlers, BatchGetCrawlers) and
 * runs (StartCrawler, StopCrawler, GetCrawlerMetrics, ListCrawls).
 *
 * A run is asynchronous like AWS's: StartCrawler answers at once with the crawler RUNNING; the crawl
 * lists and classifies in the background, the crawler goes STOPPING while the catalog is written and
 * READY at the end with LastCrawl SUCCEEDED / FAILED (with the error) / CANCELLED (StopCrawler).
 * Schedules are stored but never fire (in this project Temporal decides when to crawl).
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { Logger } from '../logger';
import { median } from '../../support/statistics';
import { CrawlError, errorMessage, glueErrors } from '../errors';
import type { CrawlerRecord, CrawlRunRecord, LakeState } from '../lake-state';
import {
  decodeNextToken,
  type JsonObject,
  nowEpochSeconds,
  type OperationHandler,
  pageOf,
  parseInput,
} from '../protocol';
import type { StateFile } from '../state-file';
import type { GlueCatalog } from './catalog';
import { type CrawlResult, prepareCrawl } from './crawl-engine';
import type { ClassificationCache } from './crawl-scan';

const MAX_RUNS_KEPT = 100;

const name = z.string().min(1).max(255);
const s3Target = z.looseObject({
  Path: z.string().min(1),
  Exclusions: z.array(z.string()).optional(),
  SampleSize: z.number().int().min(1).max(249).optional(),
  ConnectionName: z.string().optional(),
  EventQueueArn: z.string().optional(),
  DlqEventQueueArn: z.string().optional(),
});
const targets = z.looseObject({ S3Targets: z.array(s3Target).optional() });
const schemaChangePolicy = z.object({
  UpdateBehavior: z.enum(['LOG', 'UPDATE_IN_DATABASE']).optional(),
  DeleteBehavior: z.enum(['LOG', 'DELETE_FROM_DATABASE', 'DEPRECATE_IN_DATABASE']).optional(),
});
const recrawlPolicy = z.object({
  RecrawlBehavior: z.enum(['CRAWL_EVERYTHING', 'CRAWL_NEW_FOLDERS_ONLY', 'CRAWL_EVENT_MODE']).optional(),
});
const crawlerFields = {
  Role: z.string().min(1),
  DatabaseName: z.string().optional(),
  Description: z.string().max(2048).optional(),
  Targets: targets,
  Schedule: z.string().optional(),
  Classifiers: z.array(z.string()).optional(),
  TablePrefix: z.string().max(128).optional(),
  SchemaChangePolicy: schemaChangePolicy.optional(),
  RecrawlPolicy: recrawlPolicy.optional(),
  LineageConfiguration: z.unknown().optional(),
  LakeFormationConfiguration: z.unknown().optional(),
  Configuration: z.string().optional(),
  CrawlerSecurityConfiguration: z.string().optional(),
};
const createCrawlerInput = z.looseObject({
  Name: name,
  ...crawlerFields,
  Tags: z.record(z.string(), z.string()).optional(),
});
const updateCrawlerInput = z.looseObject({
  Name: name,
  ...crawlerFields,
  Role: crawlerFields.Role.optional(),
  Targets: targets.optional(),
});

const input = <T>(schema: z.ZodType<T>, raw: JsonObject) => parseInput(schema, raw, glueErrors.invalidInput);

export interface CrawlerServiceDeps {
  state: LakeState;
  catalog: GlueCatalog;
  s3: S3Client;
  file: StateFile;
  logger: Logger;
}

/** Checks a definition the way AWS does before storing it. */
function validateDefinition(crawler: CrawlerRecord): void {
  const unsupported = Object.entries(crawler.Targets).filter(
    ([kind, list]) => kind !== 'S3Targets' && Array.isArray(list) && list.length > 0,
  );
  if (unsupported.length > 0) {
    throw glueErrors.invalidInput(
      `${unsupported.map(([k]) => k).join(', ')} are not supported by the local endpoint (S3Targets only)`,
    );
  }
  if ((crawler.Targets.S3Targets ?? []).length === 0)
    throw glueErrors.invalidInput('Crawler must have at least one target');
  if (!crawler.DatabaseName)
    throw glueErrors.invalidInput('DatabaseName is required for a crawler with S3 targets');
  for (const target of crawler.Targets.S3Targets ?? []) {
    if (!/^s3:\/\/[^/]+/i.test(target.Path))
      throw glueErrors.invalidInput(`S3 target path must look like s3://bucket/prefix, got "${target.Path}"`);
  }
  if (crawler.Configuration) {
    try {
      const parsed = JSON.parse(crawler.Configuration) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
    } catch (error) {
      throw glueErrors.invalidInput(`Configuration is not a valid JSON object: ${errorMessage(error)}`);
    }
  }
  if (crawler.RecrawlPolicy.RecrawlBehavior === 'CRAWL_EVENT_MODE') {
    throw glueErrors.invalidInput('RecrawlBehavior CRAWL_EVENT_MODE is not supported by the local endpoint');
  }
  if (
    crawler.RecrawlPolicy.RecrawlBehavior === 'CRAWL_NEW_FOLDERS_ONLY' &&
    (crawler.SchemaChangePolicy.UpdateBehavior !== 'LOG' ||
      crawler.SchemaChangePolicy.DeleteBehavior !== 'LOG')
  ) {
    throw glueErrors.invalidInput(
      'The SchemaChangePolicy for "Crawl new folders only" Amazon S3 target can have only LOG DeleteBehavior value and LOG UpdateBehavior value.',
    );
  }
}

/**
 * @example
 *   const crawlers = createCrawlerService({ state, catalog, s3, file, logger });
 *   service.operations.StartCrawler({ Name: 'orders-cdc-crawler' });
 */
export function createCrawlerService(deps: CrawlerServiceDeps) {
  const { state, catalog, file, logger } = deps;
  const running = new Map<string, { controller: AbortController; done: Promise<void>; startedAt: number }>();
  const classificationCache: ClassificationCache = new Map();

  const get = (crawlerName: string): CrawlerRecord => {
    const crawler = state.crawlers.get(crawlerName);
    if (!crawler) throw glueErrors.entityNotFound(`Crawler with name ${crawlerName} does not exist`);
    return crawler;
  };

  const view = (crawler: CrawlerRecord) => {
    const run = running.get(crawler.Name);
    return run ? { ...crawler, CrawlElapsedTime: Date.now() - run.startedAt } : { ...crawler };
  };

  const runs = (crawlerName: string): CrawlRunRecord[] => {
    let list = state.crawlRuns.get(crawlerName);
    if (!list) state.crawlRuns.set(crawlerName, (list = []));
    return list;
  };

  const finish = (
    crawler: CrawlerRecord,
    run: CrawlRunRecord,
    outcome: { result?: CrawlResult; error?: unknown; cancelled: boolean },
  ) => {
    const now = nowEpochSeconds();
    run.EndTime = now;
    if (outcome.cancelled) {
      run.State = 'CANCELLED';
      crawler.LastCrawl = { Status: 'CANCELLED', StartTime: run.StartTime, MessagePrefix: run.CrawlId };
    } else if (outcome.error !== undefined) {
      const message =
        outcome.error instanceof CrawlError
          ? outcome.error.message
          : `Internal Service Exception: ${errorMessage(outcome.error)}`;
      run.State = 'FAILED';
      run.ErrorMessage = message;
      crawler.LastCrawl = {
        Status: 'FAILED',
        ErrorMessage: message,
        StartTime: run.StartTime,
        MessagePrefix: run.CrawlId,
      };
    } else if (outcome.result) {
      const r = outcome.result;
      run.State = 'COMPLETED';
      run.tablesCreated = r.tablesCreated;
      run.tablesUpdated = r.tablesUpdated;
      run.tablesDeleted = r.tablesDeleted;
      run.Summary = JSON.stringify({
        TABLE: {
          ADD: { Count: r.tablesCreated },
          UPDATE: { Count: r.tablesUpdated },
          DELETE: { Count: r.tablesDeleted },
        },
        PARTITION: {
          ADD: { Count: r.partitionsCreated },
          UPDATE: { Count: r.partitionsUpdated },
          DELETE: { Count: r.partitionsDeleted },
        },
        UNCLASSIFIED_OBJECTS: { Count: r.unclassified },
      });
      crawler.LastCrawl = { Status: 'SUCCEEDED', StartTime: run.StartTime, MessagePrefix: run.CrawlId };
      state.crawledFolders.set(crawler.Name, r.crawledFolders);
    }
    crawler.State = 'READY';
    const list = runs(crawler.Name);
    if (list.length > MAX_RUNS_KEPT) list.splice(0, list.length - MAX_RUNS_KEPT);
    file.markDirty();
  };

  const execute = async (crawler: CrawlerRecord, run: CrawlRunRecord, controller: AbortController) => {
    const started = Date.now();
    let outcome: { result?: CrawlResult; error?: unknown; cancelled: boolean };
    try {
      const prepared = await prepareCrawl(
        { s3: deps.s3, catalog, state, logger, classificationCache },
        crawler,
        controller.signal,
      );
      controller.signal.throwIfAborted();
      crawler.State = 'STOPPING';
      const result = prepared.apply();
      outcome = { result, cancelled: false };
      logger.info(
        {
          crawler: crawler.Name,
          crawlId: run.CrawlId,
          ms: Date.now() - started,
          ...result,
          crawledFolders: result.crawledFolders.length,
        },
        'crawl completed',
      );
    } catch (error) {
      const cancelled = controller.signal.aborted;
      outcome = { error, cancelled };
      if (cancelled) logger.info({ crawler: crawler.Name, crawlId: run.CrawlId }, 'crawl cancelled');
      else logger.warn({ crawler: crawler.Name, crawlId: run.CrawlId, err: error }, 'crawl failed');
    }
    // STOPPING is visible while the result is made durable, as AWS shows it while wrapping up a crawl.
    crawler.State = 'STOPPING';
    file.markDirty();
    await file.flush().catch((error: unknown) => logger.error({ err: error }, 'state flush failed'));
    finish(crawler, run, outcome);
    await file.flush().catch((error: unknown) => logger.error({ err: error }, 'state flush failed'));
  };

  const start = (crawler: CrawlerRecord) => {
    if (crawler.State !== 'READY')
      throw glueErrors.crawlerRunning(`Crawler with name ${crawler.Name} has already started`);
    crawler.State = 'RUNNING';
    const run: CrawlRunRecord = {
      CrawlId: randomUUID(),
      State: 'RUNNING',
      StartTime: nowEpochSeconds(),
      tablesCreated: 0,
      tablesUpdated: 0,
      tablesDeleted: 0,
    };
    runs(crawler.Name).push(run);
    file.markDirty();
    const controller = new AbortController();
    // Every concurrent S3 request of the crawl listens on this signal.
    setMaxListeners(0, controller.signal);
    const entry = { controller, startedAt: Date.now(), done: Promise.resolve() };
    entry.done = execute(crawler, run, controller).finally(() => running.delete(crawler.Name));
    running.set(crawler.Name, entry);
    logger.info({ crawler: crawler.Name, crawlId: run.CrawlId }, 'crawl started');
  };

  const metrics = (crawler: CrawlerRecord) => {
    const all = runs(crawler.Name).filter((r) => r.EndTime !== undefined && r.State === 'COMPLETED');
    const last = all[all.length - 1];
    const durations = all.map((r) => (r.EndTime ?? r.StartTime) - r.StartTime);
    const active = running.get(crawler.Name);
    return {
      CrawlerName: crawler.Name,
      TimeLeftSeconds: 0,
      StillEstimating: Boolean(active),
      LastRuntimeSeconds: last ? (last.EndTime ?? last.StartTime) - last.StartTime : 0,
      MedianRuntimeSeconds: median(durations) ?? 0,
      TablesCreated: last?.tablesCreated ?? 0,
      TablesUpdated: last?.tablesUpdated ?? 0,
      TablesDeleted: last?.tablesDeleted ?? 0,
    };
  };

  const operations: Record<string, OperationHandler> = {
    CreateCrawler: (raw) => {
      const req = input(createCrawlerInput, raw);
      if (state.crawlers.has(req.Name)) throw glueErrors.alreadyExists(`${req.Name} already exists`);
      const now = nowEpochSeconds();
      const crawler: CrawlerRecord = {
        Name: req.Name,
        Role: req.Role,
        Targets: req.Targets,
        DatabaseName: req.DatabaseName,
        Description: req.Description,
        Classifiers: req.Classifiers ?? [],
        RecrawlPolicy: { RecrawlBehavior: req.RecrawlPolicy?.RecrawlBehavior ?? 'CRAWL_EVERYTHING' },
        SchemaChangePolicy: {
          UpdateBehavior: req.SchemaChangePolicy?.UpdateBehavior ?? 'UPDATE_IN_DATABASE',
          DeleteBehavior: req.SchemaChangePolicy?.DeleteBehavior ?? 'DEPRECATE_IN_DATABASE',
        },
        LineageConfiguration: req.LineageConfiguration ?? { CrawlerLineageSettings: 'DISABLE' },
        State: 'READY',
        TablePrefix: req.TablePrefix,
        Schedule: req.Schedule ? { ScheduleExpression: req.Schedule, State: 'SCHEDULED' } : undefined,
        CreationTime: now,
        LastUpdated: now,
        Version: 1,
        Configuration: req.Configuration,
        CrawlerSecurityConfiguration: req.CrawlerSecurityConfiguration,
        LakeFormationConfiguration: req.LakeFormationConfiguration,
      };
      validateDefinition(crawler);
      state.crawlers.set(crawler.Name, crawler);
      file.markDirty();
      return {};
    },
    GetCrawler: (raw) => {
      const req = input(z.looseObject({ Name: name }), raw);
      return { Crawler: view(get(req.Name)) };
    },
    GetCrawlers: (raw) => {
      const req = input(
        z.looseObject({
          MaxResults: z.number().int().min(1).max(1000).optional(),
          NextToken: z.string().optional(),
        }),
        raw,
      );
      const all = [...state.crawlers.values()].sort((a, b) => a.Name.localeCompare(b.Name));
      const { page, nextToken } = pageOf(
        all,
        decodeNextToken(req.NextToken, 'crawlers', glueErrors.invalidInput),
        req.MaxResults ?? 100,
        'crawlers',
      );
      return { Crawlers: page.map(view), NextToken: nextToken };
    },
    ListCrawlers: (raw) => {
      const req = input(
        z.looseObject({
          MaxResults: z.number().int().min(1).max(1000).optional(),
          NextToken: z.string().optional(),
          Tags: z.record(z.string(), z.string()).optional(),
        }),
        raw,
      );
      const all = [...state.crawlers.keys()].sort();
      const { page, nextToken } = pageOf(
        all,
        decodeNextToken(req.NextToken, 'crawler-names', glueErrors.invalidInput),
        req.MaxResults ?? 100,
        'crawler-names',
      );
      return { CrawlerNames: page, NextToken: nextToken };
    },
    BatchGetCrawlers: (raw) => {
      const req = input(z.looseObject({ CrawlerNames: z.array(name).max(100) }), raw);
      const found = req.CrawlerNames.flatMap((n) => (state.crawlers.has(n) ? [view(get(n))] : []));
      return { Crawlers: found, CrawlersNotFound: req.CrawlerNames.filter((n) => !state.crawlers.has(n)) };
    },
    UpdateCrawler: (raw) => {
      const req = input(updateCrawlerInput, raw);
      const crawler = get(req.Name);
      if (crawler.State !== 'READY')
        throw glueErrors.crawlerRunning(`Crawler with name ${crawler.Name} is running and cannot be updated`);
      const updated: CrawlerRecord = {
        ...crawler,
        Role: req.Role ?? crawler.Role,
        Targets: req.Targets ?? crawler.Targets,
        DatabaseName: req.DatabaseName ?? crawler.DatabaseName,
        Description: req.Description ?? crawler.Description,
        Classifiers: req.Classifiers ?? crawler.Classifiers,
        TablePrefix: req.TablePrefix ?? crawler.TablePrefix,
        RecrawlPolicy: {
          RecrawlBehavior: req.RecrawlPolicy?.RecrawlBehavior ?? crawler.RecrawlPolicy.RecrawlBehavior,
        },
        SchemaChangePolicy: {
          UpdateBehavior: req.SchemaChangePolicy?.UpdateBehavior ?? crawler.SchemaChangePolicy.UpdateBehavior,
          DeleteBehavior: req.SchemaChangePolicy?.DeleteBehavior ?? crawler.SchemaChangePolicy.DeleteBehavior,
        },
        Schedule:
          req.Schedule !== undefined
            ? { ScheduleExpression: req.Schedule, State: 'SCHEDULED' }
            : crawler.Schedule,
        Configuration: req.Configuration ?? crawler.Configuration,
        LastUpdated: nowEpochSeconds(),
        Version: crawler.Version + 1,
      };
      validateDefinition(updated);
      state.crawlers.set(updated.Name, updated);
      file.markDirty();
      return {};
    },
    DeleteCrawler: (raw) => {
      const req = input(z.looseObject({ Name: name }), raw);
      const crawler = get(req.Name);
      if (crawler.State !== 'READY')
        throw glueErrors.crawlerRunning(`Crawler with name ${crawler.Name} is running and cannot be deleted`);
      state.crawlers.delete(crawler.Name);
      state.crawlRuns.delete(crawler.Name);
      state.crawledFolders.delete(crawler.Name);
      file.markDirty();
      return {};
    },
    StartCrawler: (raw) => {
      const req = input(z.looseObject({ Name: name }), raw);
      start(get(req.Name));
      return {};
    },
    StopCrawler: (raw) => {
      const req = input(z.looseObject({ Name: name }), raw);
      const crawler = get(req.Name);
      if (crawler.State === 'READY')
        throw glueErrors.crawlerNotRunning(`Crawler with name ${crawler.Name} is not running`);
      if (crawler.State === 'STOPPING')
        throw glueErrors.crawlerStopping(`Crawler with name ${crawler.Name} is already stopping`);
      crawler.State = 'STOPPING';
      const run = runs(crawler.Name).at(-1);
      if (run?.State === 'RUNNING') run.State = 'CANCELLING';
      file.markDirty();
      running.get(crawler.Name)?.controller.abort();
      return {};
    },
    StartCrawlerSchedule: (raw) => {
      const req = input(z.looseObject({ CrawlerName: name }), raw);
      const crawler = get(req.CrawlerName);
      // The Glue API reference's errors of StartCrawlerSchedule: NoScheduleException, SchedulerRunningException.
      if (!crawler.Schedule?.ScheduleExpression)
        throw glueErrors.noSchedule(`Crawler ${crawler.Name} has no schedule`);
      if (crawler.Schedule.State === 'SCHEDULED')
        throw glueErrors.schedulerRunning(`The schedule of crawler ${crawler.Name} is already running`);
      crawler.Schedule.State = 'SCHEDULED';
      file.markDirty();
      return {};
    },
    StopCrawlerSchedule: (raw) => {
      const req = input(z.looseObject({ CrawlerName: name }), raw);
      const crawler = get(req.CrawlerName);
      // The Glue API reference's error of StopCrawlerSchedule for a schedule that is not running.
      if (crawler.Schedule?.State !== 'SCHEDULED')
        throw glueErrors.schedulerNotRunning(`The schedule of crawler ${crawler.Name} is not running`);
      crawler.Schedule.State = 'NOT_SCHEDULED';
      file.markDirty();
      return {};
    },
    GetCrawlerMetrics: (raw) => {
      const req = input(
        z.looseObject({
          CrawlerNameList: z.array(name).max(100).optional(),
          MaxResults: z.number().int().min(1).max(1000).optional(),
          NextToken: z.string().optional(),
        }),
        raw,
      );
      const names = req.CrawlerNameList ?? [...state.crawlers.keys()].sort();
      const list = names.filter((n) => state.crawlers.has(n)).map((n) => metrics(get(n)));
      const { page, nextToken } = pageOf(
        list,
        decodeNextToken(req.NextToken, 'metrics', glueErrors.invalidInput),
        req.MaxResults ?? 100,
        'metrics',
      );
      return { CrawlerMetricsList: page, NextToken: nextToken };
    },
    ListCrawls: (raw) => {
      const req = input(
        z.looseObject({
          CrawlerName: name,
          MaxResults: z.number().int().min(1).max(1000).optional(),
          NextToken: z.string().optional(),
          Filters: z
            .array(
              z.object({
                FieldName: z.string().optional(),
                FilterOperator: z.string().optional(),
                FieldValue: z.string().optional(),
              }),
            )
            .optional(),
        }),
        raw,
      );
      const crawler = get(req.CrawlerName);
      let list = [...runs(crawler.Name)].reverse();
      for (const filter of req.Filters ?? []) list = list.filter((r) => matchesFilter(r, filter));
      const scope = `crawls:${crawler.Name}`;
      const { page, nextToken } = pageOf(
        list,
        decodeNextToken(req.NextToken, scope, glueErrors.invalidInput),
        req.MaxResults ?? 20,
        scope,
      );
      return {
        Crawls: page.map((r) => ({
          CrawlId: r.CrawlId,
          State: r.State,
          StartTime: r.StartTime,
          EndTime: r.EndTime,
          Summary: r.Summary,
          ErrorMessage: r.ErrorMessage,
          DPUHour: 0,
        })),
        NextToken: nextToken,
      };
    },
  };

  return {
    operations,
    /** Cancels running crawls and waits for them to record their end. */
    async shutdown(): Promise<void> {
      for (const run of running.values()) run.controller.abort();
      await Promise.all([...running.values()].map((r) => r.done));
    },
  };
}

function matchesFilter(
  run: CrawlRunRecord,
  filter: { FieldName?: string; FilterOperator?: string; FieldValue?: string },
): boolean {
  const value = filter.FieldValue ?? '';
  let actual: string | number | undefined;
  let expected: string | number = value;
  switch (filter.FieldName) {
    case 'CRAWL_ID':
      actual = run.CrawlId;
      break;
    case 'STATE':
      actual = run.State;
      break;
    case 'START_TIME':
      actual = run.StartTime;
      expected = Date.parse(value) / 1000 || Number(value);
      break;
    case 'END_TIME':
      actual = run.EndTime;
      expected = Date.parse(value) / 1000 || Number(value);
      break;
    default:
      return true;
  }
  if (actual === undefined) return false;
  switch (filter.FilterOperator) {
    case 'NE':
      return actual !== expected;
    case 'GT':
      return actual > expected;
    case 'GE':
      return actual >= expected;
    case 'LT':
      return actual < expected;
    case 'LE':
      return actual <= expected;
    default:
      return actual === expected;
  }
}
