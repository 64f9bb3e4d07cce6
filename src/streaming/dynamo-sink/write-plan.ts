/**
 * Collapses the valid events of one chunk to the writes that matter: per order, its events by seq,
 * highest first. Only the first is written; the rest are "superseded" (a later write would make them
 * stale anyway), unless DynamoDB rejects the first, when the next one is tried so nothing valid is lost.
 *
 * Two events of one order with one seq are one event sent twice when they are identical (the second is a no-op),
 * and a producer bug when they differ: the first (lowest offset) is kept and every different one is a conflict
 * for the dead-letter topic, so the outcome never depends on which arrived first without anyone knowing.
 * Only same-seq events within one chunk can be compared; across chunks the version condition decides.
 */
import type { DecodedEvent } from './decode';

export interface OrderWrite {
  orderId: string;
  /** Candidates by descending seq; duplicates of one seq appear once. */
  candidates: DecodedEvent[];
}

/** A second event with an order's seq that differs from the first one: `kept` is the first. */
export interface SeqConflict {
  rejected: DecodedEvent;
  kept: DecodedEvent;
}

/** The events in offset order (as consumed). */
export function planWrites(events: readonly DecodedEvent[]): {
  writes: OrderWrite[];
  duplicatesInChunk: number;
  conflicts: SeqConflict[];
} {
  const byOrder = new Map<string, Map<number, DecodedEvent>>();
  let duplicatesInChunk = 0;
  const conflicts: SeqConflict[] = [];
  for (const decoded of events) {
    let bySeq = byOrder.get(decoded.event.orderId);
    if (!bySeq) byOrder.set(decoded.event.orderId, (bySeq = new Map()));
    const kept = bySeq.get(decoded.event.seq);
    if (!kept) bySeq.set(decoded.event.seq, decoded);
    // Both were parsed by one strict schema: equal content serialises alike.
    else if (JSON.stringify(kept.event) === JSON.stringify(decoded.event)) duplicatesInChunk += 1;
    else conflicts.push({ rejected: decoded, kept });
  }
  const writes: OrderWrite[] = [];
  for (const [orderId, bySeq] of byOrder) {
    writes.push({ orderId, candidates: [...bySeq.values()].sort((a, b) => b.event.seq - a.event.seq) });
  }
  return { writes, duplicatesInChunk, conflicts };
}
