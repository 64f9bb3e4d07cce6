/**
 * A format writer turns the rows of one object into bytes (and back, for the lake reader and tests).
 * Encoding must be deterministic in content: a replay of the same records must produce the same rows.
 */
import type { LakeRow } from '../lake-row';

export type LakeFormatName = 'parquet' | 'jsonl';

export interface LakeFormat {
  name: LakeFormatName;
  /** File extension without the dot, e.g. `parquet`, `jsonl`, `jsonl.gz`. */
  extension: string;
  contentType: string;
  encode(rows: LakeRow[]): Buffer;
  /** The sink's path: one object from the change lines of its records (change-line.ts), in order. */
  encodeChanges(lines: Buffer[]): Promise<Buffer>;
  decode(body: Uint8Array): Promise<LakeRow[]>;
  /** Releases what encodeChanges holds (the Parquet writer's DuckDB). */
  close(): void;
}
