/**
 * A format writer turns the rows of one object into bytes (and back, for the lake reader and tests).
 * Encoding must be deterministic: a replay of the same records must produce byte-identical objects.
 */
import type { LakeRow } from '../lake-row';

export type LakeFormatName = 'parquet' | 'jsonl';

export interface LakeFormat {
  name: LakeFormatName;
  /** File extension without the dot, e.g. `parquet`, `jsonl`, `jsonl.gz`. */
  extension: string;
  contentType: string;
  encode(rows: LakeRow[]): Buffer;
  decode(body: Uint8Array): Promise<LakeRow[]>;
}
