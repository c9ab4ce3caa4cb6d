import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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
function expected() {
  const items = parseCsv(readFileSync(join(ROOT, 'examples/data/online-retail-2010-12-first-days.csv')), { unwrapQuotedRows: true });
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
      c.monetary += Number(r.Quantity) * Number(r.UnitPrice);
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
