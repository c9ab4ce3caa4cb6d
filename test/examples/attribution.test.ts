import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { deriveId } from '../../lib/operator/ids.js';
import type { AttributionRecord, ChannelCreditRecord } from '../../operators/attribution.js';
import { tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const readNdjson = <T = Record<string, unknown>>(file: string) =>
  readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

const DAY = 86_400_000;
const LOOKBACK = 7 * DAY;
const HALF_LIFE = 2 * DAY;
const dir = tempDir();
const input = join(dir, 'events.ndjson');
const out = join(dir, 'out');
let run: { code: number | null; stdout: string; stderr: string };

before(() => {
  const g = tributary(['generate', '--events', '20000', '--seed', '3', '--out', input]);
  assert.equal(g.code, 0, g.stderr);
  run = tributary(['run', 'examples/attribution/pipeline.yaml', '--input', input, '--out-dir', out, '--quiet']);
});

type Event = Record<string, unknown> & { messageId: string; timestamp: number; personId: string };

const isTouchpoint = (e: Event) => e.event === 'email_clicked' || e.event === 'store_visit' || ((e.type === 'page' || e.type === 'screen') && e.name === 'Home');
const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : null);

/**
 * The attribution records computed from the events leaving the pipeline (what the step saw, with
 * personId), independently of the operator: per person, each purchase credits the other
 * touchpoint events at t − 7d ≤ a ≤ t, ordered by (time, messageId), with the models' formulas
 * written out here.
 */
function expected(events: Event[]): AttributionRecord[] {
  const byPerson = new Map<string, Event[]>();
  for (const e of events) {
    let list = byPerson.get(e.personId);
    if (!list) byPerson.set(e.personId, (list = []));
    list.push(e);
  }
  const records: AttributionRecord[] = [];
  for (const [person, list] of byPerson) {
    const touches = list
      .filter((e) => e.event !== 'purchase' && isTouchpoint(e))
      .sort((a, b) => a.timestamp - b.timestamp || (a.messageId < b.messageId ? -1 : 1));
    for (const p of list.filter((e) => e.event === 'purchase')) {
      const t = p.timestamp;
      const value = (p.properties as { revenue: number }).revenue;
      const credited = touches.filter((a) => a.timestamp >= t - LOOKBACK && a.timestamp <= t);
      const n = credited.length;
      const youngest = Math.min(...credited.map((a) => t - a.timestamp));
      const weights = credited.map((a) => 2 ** (-(t - a.timestamp - youngest) / HALF_LIFE));
      const total = weights.reduce((x, y) => x + y, 0);
      const head = value * 0.4;
      const tail = value * 0.4;
      records.push({
        id: deriveId('attribution', 'attribution', person, p.messageId),
        key: person,
        conversionId: p.messageId,
        convertedAt: t,
        value,
        touchpoints: credited.map((a, i) => ({
          messageId: a.messageId,
          at: a.timestamp,
          channel: str((a.context as Record<string, unknown> | undefined)?.channel),
          campaign: str(((a.context as Record<string, unknown> | undefined)?.campaign as Record<string, unknown> | undefined)?.name),
          credit: {
            firstTouch: i === 0 ? value : 0,
            lastTouch: i === n - 1 ? value : 0,
            linear: value / n,
            timeDecay: (value * (weights[i] as number)) / total,
            positionBased: n === 1 ? value : n === 2 ? (value * 0.4) / 0.8 : i === 0 ? head : i === n - 1 ? tail : (value - head - tail) / (n - 2),
          },
        })),
        unattributed: n === 0 ? value : 0,
      });
    }
  }
  const order = (r: AttributionRecord) => `${r.key}\u0000${r.conversionId}`;
  return records.sort((a, b) => a.convertedAt - b.convertedAt || (order(a) < order(b) ? -1 : 1));
}

test('example attribution (pipeline.yaml unchanged): the CLI run writes exactly the records an independent computation finds', () => {
  assert.equal(run.code, 0, run.stderr);
  const events = readNdjson<Event>(join(out, 'events.ndjson'));
  const records = readNdjson<AttributionRecord>(join(out, 'attributions.ndjson'));
  const want = expected(events);
  assert.equal(want.length, 456);
  assert.deepEqual(records, want);
  assert.equal(records.filter((r) => r.touchpoints.length === 0).length, 1, 'one purchase without a touchpoint in its 7 days');
  assert.equal(Math.max(...records.map((r) => r.touchpoints.length)), 13);
  assert.deepEqual([...new Set(records.flatMap((r) => r.touchpoints.map((t) => t.channel)))].sort(), ['app', 'email', 'store', 'web']);
  assert.ok(records.some((r) => r.touchpoints.some((t) => t.campaign?.startsWith('newsletter-'))), 'newsletter campaigns credited');
  assert.match(run.stdout, /step attribution: in 19743, passed 19743, emitted attributions 456, channel-credits 642/);
});

test('example attribution: the channel credits add up per purchase, and per model to the total revenue', () => {
  const records = readNdjson<AttributionRecord>(join(out, 'attributions.ndjson'));
  const credits = readNdjson<ChannelCreditRecord>(join(out, 'channel-credits.ndjson'));
  assert.equal(credits.length, 642);
  const revenue = records.reduce((s, r) => s + r.value, 0);
  for (const model of ['firstTouch', 'lastTouch', 'linear', 'timeDecay', 'positionBased'] as const) {
    const total = credits.reduce((s, c) => s + (c.credit[model] as number), 0);
    assert.ok(Math.abs(total - revenue) < 1e-6, `${model}: ${total} vs ${revenue}`);
  }
  const byConversion = new Map<string, number>();
  for (const c of credits) byConversion.set(c.conversionId, (byConversion.get(c.conversionId) ?? 0) + c.touchpoints);
  for (const r of records) assert.equal(byConversion.get(r.conversionId), r.touchpoints.length, r.conversionId);
});

test('example attribution: a second run over the same input writes the same records (deterministic ids)', () => {
  const again = join(dir, 'again');
  const r = tributary(['run', 'examples/attribution/pipeline.yaml', '--input', input, '--out-dir', again, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  for (const f of ['attributions.ndjson', 'channel-credits.ndjson']) assert.equal(readFileSync(join(again, f), 'utf8'), readFileSync(join(out, f), 'utf8'), f);
});
