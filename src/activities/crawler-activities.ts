/**
 * Glue crawler activities: short calls that the crawl workflow strings together with durable timers, so no
 * worker slot is held while a crawl runs (minutes on AWS).
 */
import {
  CrawlerRunningException,
  GetCrawlerCommand,
  GetCrawlerMetricsCommand,
  StartCrawlerCommand,
  type GlueClient,
} from '@aws-sdk/client-glue';
import type { Config } from '../config';
import type { Logger } from '../observability/logger';
import type { CrawlerMetricsInfo, CrawlerState, CrawlerStatus } from '../contract/types';
import { permanentFailure, withAwsErrors } from './errors';
import { FailureType } from '../contract/failure-types';

export function createCrawlerActivities(deps: { glue: GlueClient; config: Config; logger: Logger }) {
  const { glue, logger } = deps;

  return {
    async getCrawlerStatus(input: { crawler: string }): Promise<CrawlerStatus> {
      const response = await withCrawlerErrors(input.crawler, 'glue.GetCrawler', () =>
        glue.send(new GetCrawlerCommand({ Name: input.crawler })),
      );
      const crawler = response.Crawler;
      const last = crawler?.LastCrawl;
      return {
        crawler: input.crawler,
        state: (crawler?.State ?? 'READY') as CrawlerState,
        ...(last?.Status
          ? {
              lastCrawl: {
                status: last.Status,
                ...(last.ErrorMessage ? { errorMessage: last.ErrorMessage } : {}),
                ...(last.StartTime ? { startTime: new Date(last.StartTime).toISOString() } : {}),
                ...(last.MessagePrefix ? { messagePrefix: last.MessagePrefix } : {}),
                ...(last.LogGroup ? { logGroup: last.LogGroup } : {}),
                ...(last.LogStream ? { logStream: last.LogStream } : {}),
              },
            }
          : {}),
      };
    },

    /** Starts a crawl; `started: false` when one is already running (the workflow then waits for that one). */
    async startCrawler(input: { crawler: string }): Promise<{ started: boolean }> {
      try {
        await glue.send(new StartCrawlerCommand({ Name: input.crawler }));
        logger.info({ crawler: input.crawler }, 'crawl started');
        return { started: true };
      } catch (error) {
        if (error instanceof CrawlerRunningException) {
          logger.info({ crawler: input.crawler }, 'crawl already running: joining it');
          return { started: false };
        }
        return withCrawlerErrors(input.crawler, 'glue.StartCrawler', () => Promise.reject(error));
      }
    },

    async getCrawlerMetrics(input: { crawler: string }): Promise<CrawlerMetricsInfo> {
      const response = await withCrawlerErrors(input.crawler, 'glue.GetCrawlerMetrics', () =>
        glue.send(new GetCrawlerMetricsCommand({ CrawlerNameList: [input.crawler] })),
      );
      const m = response.CrawlerMetricsList?.find((x) => x.CrawlerName === input.crawler);
      return {
        tablesCreated: m?.TablesCreated ?? 0,
        tablesUpdated: m?.TablesUpdated ?? 0,
        tablesDeleted: m?.TablesDeleted ?? 0,
        lastRuntimeSeconds: m?.LastRuntimeSeconds ?? 0,
        medianRuntimeSeconds: m?.MedianRuntimeSeconds ?? 0,
      };
    },
  };

  /** A missing crawler is a named, non-retryable failure that says how to fix it. */
  async function withCrawlerErrors<T>(crawler: string, operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withAwsErrors(operation, fn);
    } catch (error) {
      if ((error as { type?: string }).type === FailureType.ResourceNotFound) {
        throw permanentFailure(
          FailureType.CrawlerNotFound,
          `crawler ${crawler} does not exist (run the provision workflow first)`,
          {
            crawler,
          },
        );
      }
      throw error;
    }
  }
}

export type CrawlerActivities = ReturnType<typeof createCrawlerActivities>;
