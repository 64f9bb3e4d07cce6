/**
 * crawl: runs the Glue crawler and waits for it with a durable timer loop.
 *
 * If a crawl is already running (StartCrawler → CrawlerRunningException), it waits for that one instead of
 * failing. Between state checks the workflow sleeps on a durable timer, so no worker slot is held during a crawl
 * that takes minutes, and a worker restart loses nothing. A crawl is recognised as finished when the crawler is
 * READY and its LastCrawl is newer than the one seen before starting. A failed crawl fails the workflow with a
 * non-retryable `CrawlFailed` carrying the crawler's own error message.
 *
 * Start: `temporal workflow start --task-queue orders-control-plane --type crawl --input '{}'`
 */
import {
  ApplicationFailure,
  continueAsNew,
  proxyActivities,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { CrawlerActivities } from '../activities/crawler-activities';
import { crawlArgsSchema } from '../contract/args';
import { tagRun, workerDefaults } from './defaults';
import type { CrawlResult, LastCrawlInfo } from '../contract/types';
import { parseWorkflowArgs } from './validation';
import { FailureType } from '../contract/failure-types';

const glue = proxyActivities<CrawlerActivities>({
  // Single Glue API calls: seconds. A call stuck longer is retried.
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [
      FailureType.CrawlerNotFound,
      FailureType.AccessDenied,
      FailureType.InvalidRequest,
      FailureType.AwsClientError,
    ],
  },
});

const DEFAULT_POLL_SECONDS = 15;
const DEFAULT_TIMEOUT_MINUTES = 120;

/** What the loop needs to go on after continue-as-new. */
export interface CrawlProgress {
  crawler: string;
  /** Identity of LastCrawl before this run started or joined a crawl (undefined: the crawler never ran). */
  baseline?: string;
  joinedRunningCrawl: boolean;
  /** Epoch ms after which the run gives up. */
  deadline: number;
  polls: number;
}

/** Start time plus AWS's per-crawl message prefix: two crawls never share both. */
function crawlIdentity(last: LastCrawlInfo | undefined): string | undefined {
  return last ? `${last.startTime ?? ''}|${last.messagePrefix ?? ''}` : undefined;
}

export async function crawl(input?: unknown, progress?: CrawlProgress): Promise<CrawlResult> {
  const args = parseWorkflowArgs('crawl', crawlArgsSchema, input);
  const pollMs = (args.pollIntervalSeconds ?? DEFAULT_POLL_SECONDS) * 1000;
  let state = progress;
  if (!state) {
    const defaults = await workerDefaults();
    const crawler = args.crawler ?? defaults.crawler;
    tagRun('crawl', crawler, defaults);
    const before = await glue.getCrawlerStatus({ crawler });
    const { started } = await glue.startCrawler({ crawler });
    state = {
      crawler,
      baseline: crawlIdentity(before.lastCrawl),
      joinedRunningCrawl: !started,
      deadline: Date.now() + (args.timeoutMinutes ?? DEFAULT_TIMEOUT_MINUTES) * 60_000,
      polls: 0,
    };
  }

  for (;;) {
    await sleep(pollMs);
    const status = await glue.getCrawlerStatus({ crawler: state.crawler });
    state.polls += 1;
    const last = status.lastCrawl;
    if (status.state === 'READY' && last && crawlIdentity(last) !== state.baseline) {
      if (last.status === 'FAILED') {
        throw ApplicationFailure.create({
          type: FailureType.CrawlFailed,
          nonRetryable: true,
          message: `crawler ${state.crawler} failed: ${last.errorMessage ?? 'no error message'}`,
          details: [
            {
              crawler: state.crawler,
              errorMessage: last.errorMessage,
              startTime: last.startTime,
              logGroup: last.logGroup,
            },
          ],
        });
      }
      if (last.status === 'CANCELLED') {
        throw ApplicationFailure.create({
          type: FailureType.CrawlCancelled,
          nonRetryable: true,
          message: `crawler ${state.crawler}: the crawl was cancelled (StopCrawler)`,
          details: [{ crawler: state.crawler, startTime: last.startTime }],
        });
      }
      const metrics = await glue.getCrawlerMetrics({ crawler: state.crawler });
      return {
        crawler: state.crawler,
        status: last.status,
        startTime: last.startTime,
        joinedRunningCrawl: state.joinedRunningCrawl,
        polls: state.polls,
        metrics,
      };
    }
    if (Date.now() > state.deadline) {
      throw ApplicationFailure.create({
        type: FailureType.CrawlTimeout,
        nonRetryable: true,
        message: `crawler ${state.crawler} still ${status.state} after ${args.timeoutMinutes ?? DEFAULT_TIMEOUT_MINUTES} minutes`,
      });
    }
    // Every poll adds events; a very long crawl starts a fresh history carrying its state.
    if (workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof crawl>(input, state);
    }
  }
}
