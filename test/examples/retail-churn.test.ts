import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseCsv } from '../../lib/serde/csv.js';
import { ROOT, tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const DAY = 86_400_000;
const readNdjson = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

/**
 * Per order line with a customer, straight from the CSV: the customer's features so far (the
 * sample spans five days, inside the 30-day window), the churn risk of the pipeline's model
 * written out here again, and the win-back entries (risk ≥ 0.7, a day of cooldown after a record).
 */
function expected(csv: Buffer = readFileSync(join(ROOT, 'examples/data/online-retail-2010-12-first-days.csv'))) {
  const items = parseCsv(csv, { unwrapQuotedRows: true });
  const customers = new Map<string, { orders: Set<string>; monetary: number; cancelled: Set<string>; inside: boolean; fired?: number }>();
  const risks: number[] = [];
  const entries: string[] = [];
  for (const item of items) {
    if (!item.ok || !item.record.CustomerID) continue;
    const r = item.record;
    const user = String(Number(r.CustomerID));
    const [d, h] = String(r.InvoiceDate).split(' ');
    const t = Date.parse(`${d}T${h}Z`);
    const order = String(r.InvoiceNo);
    const c = customers.get(user) ?? { orders: new Set<string>(), monetary: 0, cancelled: new Set<string>(), inside: false };
    customers.set(user, c);
    if (order.startsWith('C')) c.cancelled.add(order);
    else {
      c.orders.add(order);
      const amount = Number(r.Quantity) * Number(r.UnitPrice);
      c.monetary += Number.isFinite(amount) ? amount : 0; // an overflowing product counts 0
    }
    const z = 0.8 + -0.9 * c.orders.size + -0.004 * c.monetary + 1.5 * c.cancelled.size;
    const risk = 1 / (1 + Math.exp(-z));
    risks.push(risk);
    const inside = risk >= 0.7;
    if (inside && !c.inside && (c.fired === undefined || t - c.fired >= DAY)) {
      entries.push(`${user} ${t} ${risk}`);
      c.fired = t;
    }
    c.inside = inside;
  }
  return { risks, entries };
}

test('example retail-churn: features → logistic churn risk → win-back entries, every score and entry recomputed from the CSV', () => {
  const out = tempDir();
  const r = tributary(['run', 'examples/retail-churn/pipeline.yaml', '--input', 'examples/data/online-retail-2010-12-first-days.csv', '--out-dir', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const events = readNdjson(join(out, 'events.ndjson'));
  const winBack = readNdjson(join(out, 'win-back.ndjson'));
  const dead = readNdjson(join(out, 'dead-letter.ndjson'));
  const want = expected();
  assert.equal(events.length, 6083);
  assert.deepEqual(dead.map((x) => x.reason).filter((x) => x !== 'missing-key'), [], 'no line failed to score');
  assert.deepEqual(events.map((e) => (e.scores as { churnRisk: number }).churnRisk), want.risks);
  assert.equal(winBack.length, 29);
  assert.deepEqual(winBack.map((x) => `${x.key} ${x.firedAt} ${(x.payload as { churnRisk: number }).churnRisk}`), want.entries);
  assert.ok(winBack.every((x) => x.rule === 'win-back' && x.transition === 'entry'));
  assert.equal(new Set(winBack.map((x) => x.triggerId)).size, winBack.length, 'deterministic, distinct trigger ids');
  // A few by hand: a customer whose first line is a cancellation (no rfm yet: missing counts as 0).
  const first = winBack[0] as { key: string; payload: { churnRisk: number; frequency: unknown; cancelled: number } };
  assert.deepEqual([first.key, first.payload], ['14527', { churnRisk: 1 / (1 + Math.exp(-(0.8 + 1.5))), frequency: null, cancelled: 1 }]);
});

test('example retail-churn: one row whose quantity × price overflows (1e20 × 1e300) counts 0 in monetary; the customer\'s later rows score as the others', () => {
  const lines = readFileSync(join(ROOT, 'examples/data/online-retail-2010-12-first-days.csv'), 'utf8').split('\n');
  // After the 4,000th line, a row of the customer of a line near it that has later rows.
  const at = lines.findIndex((l, i) => i >= 4000 && /,\d+\.0,/.test(l) && lines.slice(i + 1).some((m) => m.split(',')[6] === l.split(',')[6]));
  const row = lines[at]!.split(',');
  const hostile = ['599001', 'HSTL1', 'HOSTILE', '100000000000000000000', row[4], '1e300', row[6], 'United Kingdom'].join(',');
  const csv = [...lines.slice(0, at + 1), hostile, ...lines.slice(at + 1)].join('\n');
  const dir = tempDir();
  writeFileSync(join(dir, 'in.csv'), csv);
  const r = tributary(['run', 'examples/retail-churn/pipeline.yaml', '--input', join(dir, 'in.csv'), '--out-dir', join(dir, 'out'), '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const events = readNdjson(join(dir, 'out', 'events.ndjson'));
  // Before, monetary became Infinity for 30 days: the row and the customer's next 12 rows were
  // score-invalid-feature dead letters.
  assert.deepEqual(readNdjson(join(dir, 'out', 'dead-letter.ndjson')).map((x) => x.reason).filter((x) => x !== 'missing-key'), []);
  assert.equal(events.length, 6084);
  assert.deepEqual(events.map((e) => (e.scores as { churnRisk: number }).churnRisk), expected(Buffer.from(csv)).risks);
});
