import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseCsv } from '../../lib/serde/csv.js';
import { ROOT, tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const DAY = 86_400_000;

/** Segment entries and exits recomputed from the CSV, without the pipeline's code. */
function expectedChanges(): string[] {
  const items = parseCsv(readFileSync(join(ROOT, 'examples/data/online-retail-2010-12-first-days.csv')), { unwrapQuotedRows: true });
  const history = new Map<string, Array<{ t: number; amount: number; order: string; cancel: boolean }>>();
  const inside = new Map<string, boolean>();
  const out: string[] = [];
  for (const item of items) {
    if (!item.ok || !item.record.CustomerID) continue;
    const r = item.record;
    const user = String(Number(r.CustomerID));
    const [d, h] = String(r.InvoiceDate).split(' ');
    const t = Date.parse(`${d}T${h}Z`);
    const order = String(r.InvoiceNo);
    const rows = history.get(user) ?? [];
    rows.push({ t, amount: Number(r.Quantity) * Number(r.UnitPrice), order, cancel: order.startsWith('C') });
    history.set(user, rows);
    const inWindow = rows.filter((x) => !x.cancel && x.t > t - 1 * DAY && x.t <= t);
    const monetary = inWindow.reduce((a, x) => a + x.amount, 0);
    const frequency = new Set(inWindow.map((x) => x.order)).size;
    for (const [rule, member, exits] of [['high-value', monetary >= 300, true], ['repeat-buyer', frequency >= 2, false]] as const) {
      const k = `${rule}|${user}`;
      const was = inside.get(k) ?? false;
      if (member !== was) {
        inside.set(k, member);
        if (member || exits) out.push(`${rule} ${user} ${t} ${member ? 'entry' : 'exit'}`);
      }
    }
  }
  return out.sort();
}

test('example retail-segments: 1-day RFM segment entries/exits over the Online Retail sample match an independent computation', () => {
  const out = tempDir();
  const r = tributary(['run', 'examples/retail-segments/pipeline.yaml', '--input', 'examples/data/online-retail-2010-12-first-days.csv', '--out-dir', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const records = readFileSync(join(out, 'segment-changes.ndjson'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const got = records.map((x) => `${x.rule} ${x.key} ${x.firedAt} ${x.transition}`).sort();
  const want = expectedChanges();
  assert.ok(want.some((w) => w.endsWith('exit')), 'the sample has segment exits too');
  assert.deepEqual(got, want);
  assert.equal(new Set(records.map((x) => x.triggerId)).size, records.length, 'deterministic, distinct trigger ids');
});
