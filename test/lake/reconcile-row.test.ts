/**
 * The comparable form of an order (src/lake-format/reconcile-row.ts): a DynamoDB item and the view's Athena row
 * of the same order compare equal whatever their spelling of timestamps, numbers and NULL; a real difference is
 * named by column; order ids sort the way Athena's ORDER BY does; the merge's heap pops in order.
 */
import {
  comparableItem,
  comparableLakeRow,
  compareOrderIds,
  differingFields,
  RECONCILED_COLUMNS,
} from '../../src/lake-format/reconcile-row';
import { ORDER_COLUMNS } from '../../src/lake-format/lake-schema';
import { MinHeap } from '../../src/support/min-heap';

const item = {
  orderId: 'o-1',
  customerId: 'c-1',
  status: 'PAID',
  version: 3,
  amount: 12.5,
  currency: 'USD',
  region: 'eu-west',
  itemCount: 2,
  createdAt: '2024-05-01T10:00:00Z',
  updatedAt: '2024-05-01T10:05:00.120Z',
  lastEventType: 'PAYMENT_CAPTURED',
  note: 'not a lake column',
};

/** The same order as Athena's CSV gives it: doubles like Java, timestamps without zone, NULL for a missing id. */
const athenaRow = {
  order_id: 'o-1',
  customer_id: 'c-1',
  status: 'PAID',
  version: '3',
  amount: '12.5',
  currency: 'USD',
  region: 'eu-west',
  item_count: '2',
  created_at: '2024-05-01 10:00:00.000',
  updated_at: '2024-05-01 10:05:00.120',
  last_event_type: 'PAYMENT_CAPTURED',
  last_event_id: null,
  change_time: '2024-05-01 10:05:01.000',
};

describe('comparable orders', () => {
  it('reads a v2 shipping address into its flat columns, as the S3 sink writes them', () => {
    const v2Item = { ...item, channel: 'web', shippingAddress: { country: 'DE', postcode: '10115' } };
    const v2Row = { ...athenaRow, channel: 'web', shipping_country: 'DE', shipping_postcode: '10115' };
    expect(differingFields(comparableItem(v2Item), comparableLakeRow(v2Row))).toEqual([]);
    expect(
      differingFields(comparableItem(v2Item), comparableLakeRow({ ...v2Row, shipping_postcode: '10117' })),
    ).toEqual(['shipping_postcode']);
    // The v1 row (no address) has NULL there.
    expect(differingFields(comparableItem(v2Item), comparableLakeRow(athenaRow))).toEqual([
      'channel',
      'shipping_country',
      'shipping_postcode',
    ]);
  });

  it('compares every order column of the lake schema, and nothing else', () => {
    expect(RECONCILED_COLUMNS.map((c) => c.name)).toEqual(ORDER_COLUMNS.map((c) => c.name));
    expect(Object.keys(comparableItem(item))).toEqual(ORDER_COLUMNS.map((c) => c.name));
  });

  it('finds an item and its Athena row equal across number, timestamp and NULL spellings', () => {
    expect(differingFields(comparableItem(item), comparableLakeRow(athenaRow))).toEqual([]);
    expect(
      differingFields(comparableItem(item), comparableLakeRow({ ...athenaRow, amount: '1.25E1' })),
    ).toEqual([]);
    expect(
      differingFields(
        comparableItem(item),
        comparableLakeRow({ ...athenaRow, updated_at: '2024-05-01 10:05:00.120 UTC' }),
      ),
    ).toEqual([]);
  });

  it('names each differing column, an empty string is not NULL, and a value the lake cannot hold differs', () => {
    const lake = comparableLakeRow({ ...athenaRow, amount: '12.51', status: 'SHIPPED', last_event_id: '' });
    expect(differingFields(comparableItem(item), lake)).toEqual(['status', 'amount', 'last_event_id']);
    expect(
      differingFields(comparableItem({ ...item, version: 'three' }), comparableLakeRow(athenaRow)),
    ).toEqual(['version']);
  });

  it('orders ids by code point, as Athena and DuckDB sort varchar', () => {
    const ids = ['b', 'a\u{1F600}', 'a\uFFFD', 'a', 'ab', 'A'];
    expect([...ids].sort(compareOrderIds)).toEqual(['A', 'a', 'ab', 'a\uFFFD', 'a\u{1F600}', 'b']);
  });

  it('pops a heap in order', () => {
    const heap = new MinHeap<number>((a, b) => a - b);
    for (const n of [5, 3, 9, 1, 4, 1, 8]) heap.push(n);
    const popped: number[] = [];
    while (heap.size > 0) popped.push(heap.pop()!);
    expect(popped).toEqual([1, 1, 3, 4, 5, 8, 9]);
  });
});
