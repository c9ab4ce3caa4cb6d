import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { deriveId } from '../../lib/operator/ids.js';
import type { TriggerRecord } from '../../operators/trigger.js';
import { tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const readNdjson = <T = Record<string, unknown>>(file: string) =>
  readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

const T = 30 * 60_000;
const COOLDOWN = 24 * 3_600_000;
const dir = tempDir();
const input = join(dir, 'events.ndjson');
let run: { code: number | null; stdout: string; stderr: string };
const out = join(dir, 'out');

before(() => {
  const g = tributary(['generate', '--events', '20000', '--seed', '3', '--out', input]);
  assert.equal(g.code, 0, g.stderr);
  run = tributary(['run', 'examples/cart-abandonment/pipeline.yaml', '--input', input, '--out-dir', out, '--quiet']);
});

/**
 * The triggers computed from the events leaving the pipeline (exactly what the trigger step saw,
 * in order, with personId), independently of the operator: per person, every add_to_cart
 * without a purchase in [t, t + 30m] is a candidate firing at t + 30m; in firedAt order (ties:
 * by timer id), one fires when no record of the person fired less than 24h before.
 */
function expected(events: Array<Record<string, unknown>>) {
  const byPerson = new Map<string, Array<Record<string, unknown>>>();
  for (const e of events) {
    const p = e.personId as string;
    let list = byPerson.get(p);
    if (!list) byPerson.set(p, (list = []));
    list.push(e);
  }
  const fired: Array<[string, number, string]> = [];
  let suppressed = 0;
  for (const [person, list] of byPerson) {
    const purchases = list.filter((e) => e.event === 'purchase');
    const candidates = list
      .filter((a) => a.event === 'add_to_cart')
      .filter((a) => !purchases.some((b) => b.messageId !== a.messageId && (a.timestamp as number) <= (b.timestamp as number) && (b.timestamp as number) <= (a.timestamp as number) + T))
      .map((a) => ({ at: (a.timestamp as number) + T, id: a.messageId as string, timer: deriveId('pending', 'cart-abandoned', person, a.messageId as string) }))
      .sort((x, y) => x.at - y.at || (x.timer < y.timer ? -1 : 1));
    let last: number | undefined;
    for (const c of candidates) {
      if (last !== undefined && c.at - last < COOLDOWN) {
        suppressed++;
        continue;
      }
      last = c.at;
      fired.push([person, c.at, c.id]);
    }
  }
  return { fired: fired.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)), suppressed };
}

test('example cart-abandonment (pipeline.yaml unchanged): the CLI run fires exactly the abandoned carts an independent computation finds', () => {
  assert.equal(run.code, 0, run.stderr);
  const events = readNdjson(join(out, 'events.ndjson'));
  const triggers = readNdjson<TriggerRecord>(join(out, 'campaign-triggers.ndjson'));
  const want = expected(events);
  assert.ok(want.fired.length > 100 && want.suppressed > 10, 'the generated stream has abandoned carts and repeat carts within 24h');
  assert.deepEqual(
    triggers.map((r) => [r.key, r.firedAt, r.causes[0]]).sort((a, b) => (a[1] as number) - (b[1] as number) || ((a[0] as string) < (b[0] as string) ? -1 : 1)),
    want.fired,
  );
  for (const r of triggers) {
    assert.deepEqual(Object.keys(r).sort(), ['causes', 'channel', 'firedAt', 'key', 'payload', 'personId', 'rule', 'triggerId']);
    assert.equal(r.rule, 'cart-abandoned');
    assert.equal(r.personId, r.key);
    assert.equal(r.causes.length, 1);
    assert.equal(r.channel, null);
    assert.equal(r.triggerId, deriveId('trigger', 'cart-abandoned', r.key, r.causes[0] as string));
  }
  assert.match(run.stdout, new RegExp(`step trigger: in ${events.length}, passed ${events.length}, emitted campaign-triggers ${want.fired.length}, counted suppressed-cooldown ${want.suppressed}`));
  assert.equal(readNdjson(join(out, 'sessions.ndjson')).length > 0 && readNdjson(join(out, 'customer-features.ndjson')).length > 0, true, 'the other steps ran too');
});

test('example cart-abandonment: a second run over the same input writes the same triggers (deterministic ids)', () => {
  const again = join(dir, 'again');
  const r = tributary(['run', 'examples/cart-abandonment/pipeline.yaml', '--input', input, '--out-dir', again, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(again, 'campaign-triggers.ndjson'), 'utf8'), readFileSync(join(out, 'campaign-triggers.ndjson'), 'utf8'));
});
