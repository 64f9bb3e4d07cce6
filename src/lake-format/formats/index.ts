/** Picks the format writer from config (`LAKE_FORMAT`, `S3_SINK_JSONL_GZIP`) or from an object's extension. */
import type { Config } from '../../config';
import type { LakeFormat } from './format';
import { createJsonLinesFormat } from './jsonl';
import { createParquetFormat, type ParquetFormatOptions } from './parquet';

export type { LakeFormat, LakeFormatName } from './format';

export function createLakeFormat(
  config: Pick<Config, 'lake' | 's3Sink'>,
  options: ParquetFormatOptions = {},
): LakeFormat {
  return config.lake.format === 'parquet'
    ? createParquetFormat(options)
    : createJsonLinesFormat({ gzip: config.s3Sink.jsonlGzip });
}

/** The reader's side: every object is decoded by its own extension, whatever the sink writes today. */
export function formatForExtension(extension: string): LakeFormat | undefined {
  switch (extension) {
    case 'parquet':
      return createParquetFormat();
    case 'jsonl':
      return createJsonLinesFormat({ gzip: false });
    case 'jsonl.gz':
      return createJsonLinesFormat({ gzip: true });
    default:
      return undefined;
  }
}
