/**
 * examples/consent-gated-carts through the CLI over generated traffic: the consent each event
 * leaves with is recomputed here from the input, and every trigger record is checked against the
 * cart and the channel it names.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const readNdjson = <T = Record<string, unknown>>(file: string) =>
  readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

type Flags = Record<string, boolean>;
type Event = { messageId: string; timestamp: number; personId: string; event?: string; context?: { consent?: Flags } };
type TriggerOut = { rule: string; personId: string; causes: string[]; channel: string | null; reason?: string };

const dir = tempDir();
const input = join(dir, 'events.ndjson');
const out = join(dir, 'out');
const PIPELINE = 'examples/consent-gated-carts/pipeline.yaml';
let run: { code: number | null; stdout: string; stderr: string };

before(() => {
  const g = tributary(['generate', '--events', '20000', '--seed', '3', '--out', input]);
  assert.equal(g.code, 0, g.stderr);
  run = tributary(['run', PIPELINE, '--input', input, '--out-dir', out, '--quiet']);
});

test('consent-gated-carts: every event leaves with the merged consent of its person at its time, recomputed from the input', () => {
  assert.equal(run.code, 0, run.stderr);
  // The consent each input event carried (the step replaces it with the merged one).
  const carried = new Map(readNdjson<Event>(input).map((e) => [e.messageId, e.context?.consent]));
  // Per person and channel: every (time, value) seen so far, in arrival (output) order.
  const seen = new Map<string, Map<string, Array<[number, boolean]>>>();
  let checked = 0;
  for (const e of readNdjson<Event>(join(out, 'events.ndjson'))) {
    let person = seen.get(e.personId);
    if (!person) seen.set(e.personId, (person = new Map()));
    for (const [channel, value] of Object.entries(carried.get(e.messageId) ?? {})) {
      if (typeof value !== 'boolean') continue;
      let list = person.get(channel);
      if (!list) person.set(channel, (list = []));
      list.push([e.timestamp, value]);
    }
    // Per channel the value with the latest time at or before the event's (ties: the later arrival).
    const want: Flags = {};
    for (const [channel, list] of person) {
      let best: [number, boolean] | undefined;
      for (const x of list) if (x[0] <= e.timestamp && (best === undefined || x[0] >= best[0])) best = x;
      if (best) want[channel] = best[1];
    }
    if (Object.keys(want).length === 0) assert.deepEqual(e.context?.consent, carried.get(e.messageId), `${e.messageId}: nothing known, passes unchanged`);
    else assert.deepEqual(e.context?.consent, want, `${e.messageId} of ${e.personId}`);
    checked++;
  }
  assert.equal(checked, 19_743);
});

test('consent-gated-carts: triggers name carts of their person, fire on push or email, and are suppressed without consent', () => {
  const events = new Map(readNdjson<Event>(join(out, 'events.ndjson')).map((e) => [e.messageId, e]));
  const fired = readNdjson<TriggerOut>(join(out, 'campaign-triggers.ndjson'));
  const suppressed = readNdjson<TriggerOut>(join(out, 'suppressed-triggers.ndjson'));
  for (const r of [...fired, ...suppressed]) {
    assert.equal(r.rule, 'cart-abandoned');
    const cart = events.get(r.causes[0] as string);
    assert.equal(cart?.event, 'add_to_cart', `${r.causes[0]} is a cart`);
    assert.equal(cart?.personId, r.personId);
  }
  const byChannel = (list: TriggerOut[]) => list.reduce<Record<string, number>>((m, r) => ({ ...m, [String(r.channel)]: (m[String(r.channel)] ?? 0) + 1 }), {});
  assert.deepEqual(byChannel(fired), { email: 375, push: 221 });
  // A channel is only used for a person whose consent granted it (push first, then email).
  const granted = new Map<string, Set<string>>();
  for (const e of events.values()) for (const [channel, v] of Object.entries(e.context?.consent ?? {})) if (v === true) (granted.get(e.personId) ?? granted.set(e.personId, new Set()).get(e.personId)!).add(channel);
  for (const r of fired) assert.ok(granted.get(r.personId)?.has(r.channel as string), `${r.personId} granted ${r.channel}`);
  assert.equal(suppressed.filter((r) => r.reason === 'no-consent').length, 389);
  assert.ok(suppressed.filter((r) => r.reason === 'no-consent').every((r) => r.channel === null));
  assert.equal(suppressed.filter((r) => r.reason === 'cooldown').length, 284);
  assert.match(run.stdout, /emitted campaign-triggers 596, suppressed-triggers 673, counted suppressed-no-consent 389, suppressed-cooldown 284/);
});
