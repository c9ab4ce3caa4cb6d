import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstValueFrom, from, toArray } from 'rxjs';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import { funnel, type FunnelRecord } from '../../operators/funnel.js';
import { ev, MIN } from '../support/events.js';

const steps = [
  { name: 'view', where: { event: 'product_viewed' } },
  { name: 'purchase', where: { event: 'purchase' } },
];

test('funnel as an RxJS operator: events pass unchanged; records as the watermark passes, the rest at completion; late to late', async () => {
  const funnels: DerivedRecord[] = [];
  const late: DerivedRecord[] = [];
  const input = [
    ev('v1', 0, { anonymousId: 'a1' }),
    ev('p1', 5 * MIN, { event: 'purchase', anonymousId: 'a1' }),
    ev('v2', 10 * MIN, { anonymousId: 'a2' }),
    ev('x', 2 * MIN, { anonymousId: 'a2' }), // behind the watermark (10m, lateness 0): late
    ev('v3', 20 * MIN, { anonymousId: 'a1' }),
  ];
  const out = await firstValueFrom(from(input).pipe(funnel({ key: 'anonymousId', steps, within: '30m', outputs: { funnels: (r) => funnels.push(r), late: (r) => late.push(r) } }), toArray()));
  assert.deepEqual(out, input.filter((e) => e.messageId !== 'x'));
  assert.deepEqual(late.map((r) => r.messageId), ['x']);
  assert.deepEqual(
    funnels.map((r) => {
      const f = r as FunnelRecord;
      return [f.key, f.startedAt, f.steps.map((s) => s.messageId), f.converted, f.droppedAfter];
    }),
    [
      ['a1', 0, ['v1', 'p1'], true, null], // watermark 10m passed the purchase at 5m
      ['a2', 10 * MIN, ['v2'], false, 'view'], // completion
      ['a1', 20 * MIN, ['v3'], false, 'view'],
    ],
  );
});
