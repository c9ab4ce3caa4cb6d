import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FunnelRecord } from '../../operators/funnel.js';
import { tributary, ROOT } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const readNdjson = <T = Record<string, unknown>>(file: string) =>
  readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

const WITHIN = 60 * 60_000;
const STEP: Record<string, number> = { view: 0, cart: 1, purchase: 2 };

/** `[user, startedAt, furthestStep, converted, totalMs]` of one attempt. */
type Attempt = [string, number, number, boolean, number];

/**
 * The funnel attempts computed straight from the CSV, independently of Tributary: drop exact
 * duplicate rows, keep view, cart and purchase rows, group by user_id, sort each user's rows by
 * time (same second: view, cart, purchase). Then per user: an attempt starts at the first view
 * after the previous attempt closed; walking on through the rows up to 1h after that view, a
 * cart after the view is step 2, a purchase after that cart step 3. It closes at the purchase,
 * else 1h after the view.
 */
function attemptsFromCsv(): Attempt[] {
  const rows = new Set(readFileSync(join(ROOT, 'examples/data/rees46-2019-10-01-head.csv'), 'utf8').split('\n').slice(1).filter(Boolean));
  const byUser = new Map<string, Array<[number, number]>>();
  for (const row of rows) {
    const cols = row.split(','); // the file has no quoted fields
    const time = Date.parse((cols[0] as string).replace(' UTC', 'Z').replace(' ', 'T'));
    const step = STEP[cols[1] as string];
    const user = cols[7] as string;
    assert.ok(Number.isFinite(time) && user, row);
    if (step === undefined) continue;
    let list = byUser.get(user);
    if (!list) byUser.set(user, (list = []));
    list.push([time, step]);
  }
  const out: Attempt[] = [];
  for (const [user, list] of byUser) {
    list.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let closed = -Infinity;
    for (let i = 0; i < list.length; i++) {
      const [start, step] = list[i] as [number, number];
      if (step !== 0 || start <= closed) continue;
      let reached = 1;
      let last = start;
      for (let j = i + 1; j < list.length && reached < 3; j++) {
        const [t, s] = list[j] as [number, number];
        if (t > start + WITHIN) break;
        if (s === reached) {
          reached++;
          last = t;
        }
      }
      const converted = reached === 3;
      out.push([user, start, reached, converted, last - start]);
      closed = converted ? last : start + WITHIN;
    }
  }
  return out.sort(byTuple);
}

function byTuple(a: Attempt, b: Attempt): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as string | number | boolean;
    const y = b[i] as string | number | boolean;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

test('example rees46-funnel: the CLI run finds the attempts, step counts and conversions an independent pass over the CSV finds', () => {
  const out = tempDir();
  const r = tributary(['run', 'examples/rees46-funnel/pipeline.yaml', '--input', 'examples/data/rees46-2019-10-01-head.csv', '--out-dir', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);

  const expected = attemptsFromCsv();
  const funnels = readNdjson<FunnelRecord>(join(out, 'funnels.ndjson'));
  const counts = (list: Attempt[]) => ({ attempts: list.length, cart: list.filter((a) => a[2] >= 2).length, converted: list.filter((a) => a[3]).length });
  const got: Attempt[] = funnels.map((f) => [f.key, f.startedAt, f.furthestStep, f.converted, f.totalMs]);
  assert.deepEqual(counts(got), counts(expected));
  assert.deepEqual(got.sort(byTuple), expected);
  const c = counts(expected);
  assert.ok(c.converted > 10 && c.cart > c.converted && c.attempts > c.cart, `a funnel with every stage: ${JSON.stringify(c)}`);

  // Every record is consistent in itself, with a unique id.
  assert.equal(new Set(funnels.map((f) => f.id)).size, funnels.length);
  for (const f of funnels) {
    assert.equal(f.final, true);
    assert.equal(f.steps.length, f.furthestStep);
    assert.deepEqual(f.steps.map((s) => s.name), ['view', 'cart', 'purchase'].slice(0, f.furthestStep));
    assert.equal(f.furthestStepName, f.steps.at(-1)?.name);
    assert.equal(f.droppedAfter, f.converted ? null : f.furthestStepName);
    assert.deepEqual(f.stepDurationsMs, f.steps.slice(1).map((s, i) => s.at - (f.steps[i] as { at: number }).at));
    assert.ok(f.totalMs <= WITHIN);
  }
  assert.equal(readNdjson(join(out, 'duplicates.ndjson')).length, 5);
  assert.deepEqual(readNdjson(join(out, 'dead-letter.ndjson')), []);
  assert.deepEqual(readNdjson(join(out, 'late.ndjson')), []);
  assert.match(r.stdout, new RegExp(`step funnel: in 17429, passed 17429, emitted funnels ${expected.length}`));
});
