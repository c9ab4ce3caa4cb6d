import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstValueFrom, from, toArray } from 'rxjs';
import type { TributaryEvent } from '../../lib/event/event.js';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import { deriveId } from '../../lib/operator/ids.js';
import { TestDriver } from '../../lib/testing/driver.js';
import { attribution, type AttributionRecord } from '../../operators/attribution.js';
import { defaultRegistry } from '../../operators/index.js';
import { ev, HOUR, MIN } from '../support/events.js';
import { rng } from '../support/random.js';
import { tempDir } from '../support/tmp.js';

const DAY = 24 * HOUR;
const yaml = `
name: attribution-test
source:
  key: [anonymousId, userId]
  allowedLateness: 1h
steps:
  - attribution:
      key: anonymousId
      touchpoints: { where: { event: email_clicked } }
      conversion: { where: { event: purchase }, value: properties.revenue }
      lookback: 7d
      output: attributions
      aggregateOutput: channel-credits
`;
const driver = (stateDir?: string) => TestDriver.fromYaml(yaml, { registry: defaultRegistry, stateDir });
const click = (id: string, t: number, campaign = 'spring', extra: Partial<TributaryEvent> = {}) =>
  ev(id, t, { event: 'email_clicked', context: { channel: 'email', campaign: { name: campaign } }, ...extra });
const buy = (id: string, t: number, revenue = 10, extra: Partial<TributaryEvent> = {}) => ev(id, t, { event: 'purchase', properties: { revenue }, ...extra });
const brief = (rs: AttributionRecord[]) => rs.map((r) => [r.conversionId, r.touchpoints.map((t) => t.messageId), r.unattributed]);

test('attribution driver: written once the watermark passes the conversion; an out-of-order touchpoint within lateness counts, a late one goes to late and does not', async () => {
  const d = driver();
  d.pipe([click('c1', 0), buy('p1', DAY)]);
  d.pipe(click('c2', DAY - 30 * MIN)); // out of order, within the 1h lateness
  d.pipe(ev('x', DAY + HOUR)); // watermark = DAY: not passed
  assert.deepEqual(d.read('attributions'), []);
  assert.equal(d.read('events').length, 4, 'events pass through');
  d.pipe(ev('y', DAY + HOUR + 1)); // watermark DAY + 1ms
  const records = d.read<AttributionRecord>('attributions');
  assert.deepEqual(brief(records), [['p1', ['c1', 'c2'], 0]]);
  assert.equal(records[0]?.id, deriveId('attribution', 'attribution', 'a1', 'p1'));
  d.pipe(click('late', DAY - 1)); // behind the watermark
  d.pipe(buy('late-p', DAY)); // a conversion behind the watermark too
  assert.deepEqual(d.read('late').map((r) => [r.messageId, r.watermark]), [['late', DAY + 1], ['late-p', DAY + 1]]);
  d.end();
  assert.deepEqual(d.read('attributions'), [], 'nothing rewritten');
  assert.deepEqual(d.read('channel-credits').map((r) => [r.conversionId, r.channel, r.campaign, r.touchpoints]), [['p1', 'email', 'spring', 2]]);
  await d.close();
});

test('attribution driver: the state endpoint shows a key\'s touchpoints and pending conversions', async () => {
  const d = driver();
  d.pipe([click('c1', 0), buy('p1', 3 * DAY, 25)]);
  assert.deepEqual(d.query('attribution', 'a1'), {
    key: 'a1',
    touchpoints: [{ messageId: 'c1', at: 0, channel: 'email', campaign: 'spring', expiresAt: 7 * DAY }],
    pending: [{ conversionId: 'p1', convertedAt: 3 * DAY, value: 25 }],
  });
  assert.equal(d.query('attribution', 'nobody'), undefined);
  d.pipe(ev('x', 8 * DAY + HOUR + 1, { anonymousId: 'other' })); // watermark past 7d: c1 expired, p1 written
  assert.equal(d.query('attribution', 'a1'), undefined);
  assert.deepEqual(brief(d.read('attributions')), [['p1', ['c1'], 0]]);
  await d.close();
});

/** 600 events over 4 keys, some out of order within the lateness. */
function stream(): TributaryEvent[] {
  const rand = rng(11);
  const out: TributaryEvent[] = [];
  let t = 0;
  for (let i = 0; i < 600; i++) {
    t += Math.floor(rand() * 2 * HOUR);
    const at = Math.max(0, t - (rand() < 0.2 ? Math.floor(rand() * 50 * MIN) : 0));
    const anonymousId = `k${Math.floor(rand() * 4)}`;
    out.push(rand() < 0.2 ? buy(`m${i}`, at, Math.floor(rand() * 50), { anonymousId }) : click(`m${i}`, at, `n${Math.floor(rand() * 2)}`, { anonymousId }));
  }
  return out;
}

test('attribution driver: stopped mid-run and reopened on its LMDB state directory, it writes what an uninterrupted run writes', async () => {
  const events = stream();
  const ref = driver();
  ref.pipe(events).end();
  const want = { attributions: ref.read('attributions'), credits: ref.read('channel-credits'), late: ref.read('late') };
  await ref.close();
  assert.ok(want.attributions.length > 80, `conversions: ${want.attributions.length}`);

  for (const cut of [100, 333, 500]) {
    const dir = tempDir();
    const first = driver(dir);
    first.pipe(events.slice(0, cut));
    const before = { attributions: first.read('attributions'), credits: first.read('channel-credits'), late: first.read('late') };
    await first.close();
    const second = driver(dir);
    second.pipe(events.slice(cut)).end();
    assert.deepEqual(
      { attributions: [...before.attributions, ...second.read('attributions')], credits: [...before.credits, ...second.read('channel-credits')], late: [...before.late, ...second.read('late')] },
      want,
      `cut after ${cut}`,
    );
    await second.close();
  }
});

test('attribution as an RxJS operator: events pass through; records at completion', async () => {
  const records: DerivedRecord[] = [];
  const out = await firstValueFrom(
    from([click('c1', 0), buy('p1', DAY, 8), click('c2', 2 * DAY), buy('p2', 3 * DAY, 8)]).pipe(
      attribution({
        key: 'anonymousId',
        touchpoints: { where: { event: 'email_clicked' } },
        conversion: { where: { event: 'purchase' }, value: 'properties.revenue' },
        models: ['linear'],
        outputs: { attributions: (r) => records.push(r) },
      }),
      toArray(),
    ),
  );
  assert.equal(out.length, 4);
  assert.deepEqual(
    (records as AttributionRecord[]).map((r) => [r.conversionId, r.touchpoints.map((t) => [t.messageId, t.credit])]),
    [
      ['p1', [['c1', { linear: 8 }]]],
      ['p2', [['c1', { linear: 4 }], ['c2', { linear: 4 }]]],
    ],
  );
});
