/**
 * One crawl of a crawler's S3 targets, in two phases:
 * 1. `prepareCrawl` (async, abortable): check the database, then scan the targets (crawl-scan.ts);
 * 2. `apply()` (synchronous, so a stop never leaves half a crawl in the catalog): write tables and partitions
 *    (crawl-catalog-apply.ts) with the descriptors AWS's crawler writes (crawl-descriptors.ts).
 */
import { CrawlError, LakeApiError } from '../errors';
import type { CrawlerRecord, LakeState } from '../lake-state';
import type { GlueCatalog } from './catalog';
import { applyCrawl, type CrawlCounts } from './crawl-catalog-apply';
import { type ScanDeps, scanTargets } from './crawl-scan';
import { crawlerSettings } from './crawler-settings';

export interface CrawlResult extends CrawlCounts {
  /** Leaf folders seen by this crawl (for CRAWL_NEW_FOLDERS_ONLY next time). */
  crawledFolders: string[];
  unclassified: number;
}

export interface PreparedCrawl {
  apply(): CrawlResult;
}

export interface CrawlDeps extends ScanDeps {
  catalog: GlueCatalog;
  state: LakeState;
}

/**
 * Lists, classifies and lays out the crawler's targets; `apply()` then writes the catalog.
 *
 * @example
 *   const prepared = await prepareCrawl(deps, crawler, controller.signal);
 *   const result = prepared.apply();
 */
export async function prepareCrawl(
  deps: CrawlDeps,
  crawler: CrawlerRecord,
  signal: AbortSignal,
): Promise<PreparedCrawl> {
  const settings = crawlerSettings(crawler);
  const databaseName = crawler.DatabaseName ?? '';
  try {
    deps.catalog.getDatabase(databaseName);
  } catch (error) {
    if (error instanceof LakeApiError)
      throw new CrawlError(`Database ${databaseName} not found: create it before crawling into it`);
    throw error;
  }
  const previousFolders = settings.newFoldersOnly ? deps.state.crawledFolders.get(crawler.Name) : undefined;
  const scan = await scanTargets(deps, crawler, previousFolders, signal);
  return {
    apply: () => {
      const counts = applyCrawl(deps, crawler, settings, scan.targets, Boolean(previousFolders));
      return { ...counts, crawledFolders: scan.crawledFolders, unclassified: scan.unclassified };
    },
  };
}
