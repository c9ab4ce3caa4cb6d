import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TriggerRecord } from '../../operators/trigger.js';
import { ROOT, tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const readNdjson = <T = Record<string, unknown>>(file: string) =>
  readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

const HOUR = 3_600_000;

/**
 * The triggers computed straight from the CSV, independently of Tributary. The file is in time
 * order and covers 2h50m (every view is within 24h of every other): drop exact duplicate rows;
 * per (user, product) count views, every 3rd one is a candidate (the 3 are consumed); a
 * candidate less than 1h after the user's last record is suppressed.
 * `[user, time, productId, brand, price]` of each record, and the number suppressed.
 */
function fromCsv() {
  const rows = [...new Set(readFileSync(join(ROOT, 'examples/data/rees46-2019-10-01-head.csv'), 'utf8').split('\n').slice(1).filter(Boolean))];
  const views = new Map<string, number>();
  const last = new Map<string, number>();
  const fired: Array<[string, number, string, string | null, number]> = [];
  let suppressed = 0;
  for (const row of rows) {
    const [time, type, product, , , brand, price, user] = row.split(','); // no quoted fields
    if (type !== 'view') continue;
    const t = Date.parse((time as string).replace(' UTC', 'Z').replace(' ', 'T'));
    const k = `${user as string}/${product as string}`;
    const n = (views.get(k) ?? 0) + 1;
    views.set(k, n % 3);
    if (n < 3) continue;
    const previous = last.get(user as string);
    if (previous !== undefined && t - previous < HOUR) {
      suppressed++;
      continue;
    }
    last.set(user as string, t);
    fired.push([user as string, t, product as string, brand === '' ? null : (brand as string), Number(price)]);
  }
  return { fired, suppressed };
}

test('example viewed-three-times: the CLI run over real REES46 data fires exactly where an independent count of the CSV does', () => {
  const out = tempDir();
  const r = tributary(['run', 'examples/viewed-three-times/pipeline.yaml', '--input', 'examples/data/rees46-2019-10-01-head.csv', '--out-dir', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const want = fromCsv();
  assert.ok(want.fired.length > 50 && want.suppressed > 5, `real data has repeat views (${want.fired.length} fired, ${want.suppressed} suppressed)`);
  const triggers = readNdjson<TriggerRecord>(join(out, 'campaign-triggers.ndjson'));
  const got = triggers.map((t) => [t.key, t.firedAt, t.payload.productId, t.payload.brand, t.payload.price]);
  const order = (a: Array<unknown>, b: Array<unknown>) => (a[1] as number) - (b[1] as number) || String(a[0]).localeCompare(String(b[0])) || String(a[2]).localeCompare(String(b[2]));
  assert.deepEqual(got.sort(order), [...want.fired].sort(order));
  const events = new Map(readNdjson(join(out, 'events.ndjson')).map((e) => [e.messageId as string, e]));
  for (const t of triggers) {
    assert.equal(t.rule, 'viewed-same-product-3x');
    assert.equal(t.causes.length, 3);
    const causes = t.causes.map((id) => events.get(id));
    for (const c of causes) {
      assert.ok(c && c.event === 'product_viewed' && c.userId === t.key && (c.properties as Record<string, unknown>).productId === t.payload.productId, `cause of ${t.triggerId}`);
    }
    assert.equal(Math.max(...causes.map((c) => c?.timestamp as number)), t.firedAt);
  }
  assert.equal(new Set(triggers.map((t) => t.triggerId)).size, triggers.length);
  assert.match(r.stdout, new RegExp(`emitted campaign-triggers ${want.fired.length}, counted suppressed-cooldown ${want.suppressed}`));
});
