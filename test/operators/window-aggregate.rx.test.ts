import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstValueFrom, from, toArray } from 'rxjs';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import { windowAggregate, type AggregateRecord } from '../../operators/window-aggregate.js';
import { ev, HOUR, MIN } from '../support/events.js';
import { tempDir } from '../support/tmp.js';

const brief = (r: DerivedRecord) => {
  const a = r as AggregateRecord;
  return [a.key, a.windowStart, a.windowEnd, a.values, a.final];
};

test('windowAggregate as an RxJS operator: events pass through annotated, records when windows close and at completion, late events to late', async () => {
  const aggregates: DerivedRecord[] = [];
  const late: DerivedRecord[] = [];
  const out = await firstValueFrom(
    from([ev('m1', 0, { properties: { price: 2 } }), ev('m2', 10 * MIN, { anonymousId: 'a2' }), ev('m3', 70 * MIN, { properties: { price: 5 } }), ev('m4', 59 * MIN)]).pipe(
      windowAggregate({
        key: 'anonymousId',
        window: { tumbling: '1h' },
        aggregates: { n: { count: {} }, spent: { sum: 'properties.price' } },
        annotate: 'features',
        outputs: { aggregates: (r) => aggregates.push(r), late: (r) => late.push(r) },
      }),
      toArray(),
    ),
  );
  assert.deepEqual(out.map((e) => [e.messageId, e.features]), [
    ['m1', { n: 1, spent: 2 }],
    ['m2', { n: 1, spent: 0 }],
    ['m3', { n: 1, spent: 5 }],
  ]);
  assert.deepEqual(late.map((r) => [r.messageId, r.watermark]), [['m4', 70 * MIN]]);
  // m3 moves the watermark to 70m: [0, 1h) closes for a1 and a2 (timer id order), then [1h, 2h) at completion.
  assert.deepEqual(aggregates.map(brief), [
    ['a1', 0, HOUR, { n: 1, spent: 2 }, true],
    ['a2', 0, HOUR, { n: 1, spent: 0 }, true],
    ['a1', HOUR, 2 * HOUR, { n: 1, spent: 5 }, true],
  ]);
});

test('windowAggregate as an RxJS operator: sliding windows with emit update, state in LMDB', async () => {
  const stores = new LmdbStoreFactory({ path: tempDir() });
  const records: DerivedRecord[] = [];
  await firstValueFrom(
    from([ev('m1', 0), ev('m2', 10 * MIN), ev('m3', 61 * MIN)]).pipe(
      windowAggregate({ key: 'anonymousId', window: { sliding: '1h' }, aggregates: { n: { count: {} } }, emit: 'update', stores, outputs: { aggregates: (r) => records.push(r) } }),
      toArray(),
    ),
  );
  // m3 at 61m: (1m, 61m] holds m2 and m3. The final record of an event time comes once the
  // watermark (the highest time so far) passes it: after the next event, or at completion.
  assert.deepEqual(records.map((r) => [r.windowEnd, (r.values as Record<string, number>).n, r.final]), [
    [0, 1, false],
    [10 * MIN, 2, false],
    [0, 1, true],
    [61 * MIN, 2, false],
    [10 * MIN, 2, true],
    [61 * MIN, 2, true],
  ]);
  assert.equal(stores.open('windowAggregate.entries').count(), 0, 'end of input: every entry expired');
  await stores.close();
});
