/**
 * Collapses the valid events of one chunk to the writes that matter: per order, its events by seq,
 * highest first. Only the first is written; the rest are "superseded" (a later write would make them
 * stale anyway), unless DynamoDB rejects the first, when the next one is tried so nothing valid is lost.
 */
import type { DecodedEvent } from './decode';

export interface OrderWrite {
  orderId: string;
  /** Candidates by descending seq; duplicates of one seq appear once. */
  candidates: DecodedEvent[];
}

export function planWrites(events: readonly DecodedEvent[]): {
  writes: OrderWrite[];
  duplicatesInChunk: number;
} {
  const byOrder = new Map<string, Map<number, DecodedEvent>>();
  let duplicatesInChunk = 0;
  for (const decoded of events) {
    let bySeq = byOrder.get(decoded.event.orderId);
    if (!bySeq) byOrder.set(decoded.event.orderId, (bySeq = new Map()));
    if (bySeq.has(decoded.event.seq)) duplicatesInChunk += 1;
    else bySeq.set(decoded.event.seq, decoded);
  }
  const writes: OrderWrite[] = [];
  for (const [orderId, bySeq] of byOrder) {
    writes.push({ orderId, candidates: [...bySeq.values()].sort((a, b) => b.event.seq - a.event.seq) });
  }
  return { writes, duplicatesInChunk };
}
