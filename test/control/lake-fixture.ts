/**
 * A small CDC data set written straight to the lake layout (`<prefix>/orders_cdc/dt=…/hour=…/*.parquet`, with the
 * S3 sink's own Parquet encoder), plus the figures each report must show for it, computed here independently of
 * SQL: the ground truth the report tests compare against.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CDC_TABLE_FOLDER, type Config } from '../../src/config';
import { encodeParquet } from '../../src/lake-format/formats/parquet';
import type { LakeRow } from '../../src/lake-format/lake-row';
import { ORDER_LIFECYCLES, REGIONS, STATUS_AFTER, type OrderEventType } from '../../src/domain/order-event';

const SORTED_REGIONS = [...REGIONS].sort();
const stepOf = (event: OrderEventType) => ({ status: STATUS_AFTER[event], event });
const STEPS = ORDER_LIFECYCLES.complete.map(stepOf);

/** Orders created from 10:00 UTC on 2024-05-01, one a minute; all changes happen before 14:00. */
export const FIXTURE_BASE = Date.UTC(2024, 4, 1, 10, 0, 0);
export const FIXTURE_REPORT_TIME = '2024-05-01T14:00:00.000Z';

export interface FixtureOrder {
  orderId: string;
  region: string;
  amount: number;
  createdAt: number;
  finalStatus: string;
  /** When the last change happened (delivery time for delivered orders). */
  updatedAt: number;
}

export interface CdcFixture {
  rows: LakeRow[];
  orders: FixtureOrder[];
}

/**
 * Order i: created at base + i min, region by i/5, final status by i%5 (CREATED, PAID, SHIPPED, DELIVERED or
 * CANCELLED after payment), one change every 5 minutes.
 */
export function cdcFixture(count: number): CdcFixture {
  const rows: LakeRow[] = [];
  const orders: FixtureOrder[] = [];
  for (let i = 0; i < count; i++) {
    const orderId = `o-${String(i).padStart(5, '0')}`;
    const createdAt = FIXTURE_BASE + i * 60_000;
    const region = SORTED_REGIONS[Math.floor(i / 5) % SORTED_REGIONS.length];
    const amount = Math.round((10 + ((i * 7919) % 9000) / 100) * 100) / 100;
    const kind = i % 5;
    const path: { status: string; event: string }[] =
      kind === 4 ? ORDER_LIFECYCLES.cancelAfterPayment.map(stepOf) : STEPS.slice(0, kind + 1);
    let updatedAt = createdAt;
    path.forEach((step, k) => {
      const changeTime = createdAt + k * 5 * 60_000;
      updatedAt = changeTime;
      rows.push({
        order_id: orderId,
        customer_id: `c-${i % 17}`,
        status: step.status,
        version: BigInt(k + 1),
        amount,
        currency: 'USD',
        region,
        item_count: BigInt(1 + (i % 3)),
        created_at: new Date(createdAt),
        updated_at: new Date(changeTime),
        last_event_type: step.event,
        last_event_id: `e-${i}-${k}`,
        op: k === 0 ? 'INSERT' : 'MODIFY',
        change_time: new Date(changeTime),
        sequence_number: String(1_000_000 + i * 10 + k),
      });
    });
    orders.push({ orderId, region, amount, createdAt, finalStatus: path[path.length - 1].status, updatedAt });
  }
  return { rows, orders };
}

/** One object per hour partition of change_time, like the S3 sink writes them. */
export async function writeCdcFixture(s3: S3Client, config: Config, fixture: CdcFixture): Promise<string[]> {
  const byHour = new Map<string, LakeRow[]>();
  for (const row of fixture.rows) {
    const iso = (row.change_time as Date).toISOString();
    const path = `dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`;
    byHour.set(path, [...(byHour.get(path) ?? []), row]);
  }
  const keys: string[] = [];
  for (const [path, rows] of byHour) {
    const key = `${config.lake.prefix}/${CDC_TABLE_FOLDER}/${path}/fixture+0+0000000000.parquet`;
    await s3.send(new PutObjectCommand({ Bucket: config.lake.bucket, Key: key, Body: encodeParquet(rows) }));
    keys.push(key);
  }
  return keys;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** Expected `orders_revenue_by_hour_region` rows: [hour prefix 'YYYY-MM-DD HH', region, orders, revenue, cancelled]. */
export function expectedRevenue(orders: FixtureOrder[]): [string, string, number, number, number][] {
  const groups = new Map<string, { orders: number; revenue: number; cancelled: number }>();
  for (const o of orders) {
    const hour = new Date(o.createdAt).toISOString().slice(0, 13).replace('T', ' ');
    const key = `${hour}|${o.region}`;
    const g = groups.get(key) ?? { orders: 0, revenue: 0, cancelled: 0 };
    g.orders += 1;
    if (o.finalStatus === 'CANCELLED') g.cancelled += 1;
    else g.revenue += o.amount;
    groups.set(key, g);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, g]) => {
      const [hour, region] = key.split('|');
      return [hour, region, g.orders, round2(g.revenue), g.cancelled];
    });
}

/** Expected `status_funnel` stage counts. */
export function expectedFunnel(orders: FixtureOrder[]): Record<string, number> {
  const count = (statuses: string[]) => orders.filter((o) => statuses.includes(o.finalStatus)).length;
  return {
    created: orders.length,
    paid: count(['PAID', 'SHIPPED', 'DELIVERED']),
    shipped: count(['SHIPPED', 'DELIVERED']),
    delivered: count(['DELIVERED']),
    cancelled: count(['CANCELLED']),
  };
}

/** Expected `created_to_delivered`: region → delivered orders and average minutes. */
export function expectedDelivery(
  orders: FixtureOrder[],
): Record<string, { delivered: number; avgMinutes: number }> {
  const out: Record<string, { delivered: number; total: number }> = {};
  for (const o of orders.filter((x) => x.finalStatus === 'DELIVERED')) {
    const r = (out[o.region] ??= { delivered: 0, total: 0 });
    r.delivered += 1;
    r.total += (o.updatedAt - o.createdAt) / 60_000;
  }
  return Object.fromEntries(
    Object.entries(out).map(([region, r]) => [
      region,
      { delivered: r.delivered, avgMinutes: Math.round((r.total / r.delivered) * 10) / 10 },
    ]),
  );
}
