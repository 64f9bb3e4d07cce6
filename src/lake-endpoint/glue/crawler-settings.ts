/** A crawler's policies and Configuration JSON, read once per crawl into the switches the crawl follows. */
import type { CrawlerRecord } from '../lake-state';

export interface CrawlerSettings {
  combineCompatibleSchemas: boolean;
  inheritFromTable: boolean;
  mergeNewColumns: boolean;
  newFoldersOnly: boolean;
  updateInDatabase: boolean;
  deleteBehavior: string;
  tablePrefix: string;
}

/** The Configuration JSON was validated when the crawler was written. */
export function crawlerSettings(crawler: CrawlerRecord): CrawlerSettings {
  const configuration = crawler.Configuration
    ? (JSON.parse(crawler.Configuration) as Record<string, unknown>)
    : {};
  const grouping = (configuration.Grouping ?? {}) as Record<string, unknown>;
  const output = (configuration.CrawlerOutput ?? {}) as Record<string, Record<string, unknown> | undefined>;
  return {
    combineCompatibleSchemas: grouping.TableGroupingPolicy === 'CombineCompatibleSchemas',
    inheritFromTable: output.Partitions?.AddOrUpdateBehavior === 'InheritFromTable',
    mergeNewColumns: output.Tables?.AddOrUpdateBehavior === 'MergeNewColumns',
    newFoldersOnly: crawler.RecrawlPolicy.RecrawlBehavior === 'CRAWL_NEW_FOLDERS_ONLY',
    updateInDatabase: crawler.SchemaChangePolicy.UpdateBehavior !== 'LOG',
    deleteBehavior: crawler.SchemaChangePolicy.DeleteBehavior,
    tablePrefix: crawler.TablePrefix ?? '',
  };
}
