// GET /state/<step>/<key> over real HTTP for dedupe, joinIdentity, sessionize and trigger while an
// embedded run (runEmbedded({ statePort })) reads a live input (a named pipe that stays open), then
// the same keys after the input ended: closed sessions and fired carts are gone.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { deriveId } from '../../lib/operator/ids.js';
import { compilePipeline } from '../../lib/pipeline/compile.js';
import { parsePipeline } from '../../lib/pipeline/load.js';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import { defaultRegistry, personIdFor } from '../../operators/index.js';
import { ev, MIN } from '../support/events.js';
import { tempDir } from '../support/tmp.js';

const yaml = `
name: live-state
source: { key: [anonymousId, userId] }
steps:
  - dedupe: { ttl: 1h }
  - joinIdentity: {}
  - sessionize: { key: personId, gap: 30m, output: sessions }
  - trigger:
      key: personId
      rules:
        - name: cart-abandoned
          absence: { first: { event: add_to_cart }, then: { event: purchase }, within: 30m }
      output: campaign-triggers
`;
const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

async function get(base: string, path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: await res.json() };
}

test('state endpoint of an embedded run: dedupe, joinIdentity, sessionize and trigger state per key over HTTP while the input is open', async (t) => {
  const dir = tempDir();
  const fifo = join(dir, 'events.ndjson');
  execFileSync('mkfifo', [fifo]);
  const topology = compilePipeline(parsePipeline(yaml, '<test>', defaultRegistry), defaultRegistry);
  let port = 0;
  const run = runEmbedded({ topology, input: fifo, outDir: join(dir, 'out'), statePort: 0, onStateServer: (p) => (port = p) });
  const input = createWriteStream(fifo);
  t.after(() => input.end()); // a failed assertion must not leave the run waiting for input
  const events = [
    ev('m1', T0, { anonymousId: 'a1' }),
    ev('m2', T0 + MIN, { anonymousId: 'a1', event: 'add_to_cart' }),
    ev('m2', T0 + MIN, { anonymousId: 'a1', event: 'add_to_cart' }), // a duplicate
    ev('m3', T0 + 2 * MIN, { type: 'identify', anonymousId: 'a1', userId: 'u1' }),
  ];
  input.write(events.map((e) => JSON.stringify(e) + '\n').join(''));

  const p1 = personIdFor('anonymousId:a1');
  const ref = (messageId: string, event: string, timestamp: number) => ({ messageId, event, timestamp, page: null });
  const sessions = {
    key: p1,
    sessions: [{
      sessionId: deriveId('session', p1, T0), start: T0, end: T0 + 2 * MIN, durationMs: 2 * MIN, eventCount: 3,
      eventCounts: { add_to_cart: 1, identify: 1, product_viewed: 1 },
      firstEvent: ref('m1', 'product_viewed', T0), lastEvent: ref('m3', 'identify', T0 + 2 * MIN),
      channels: [], mergedFrom: [], closesAt: T0 + 32 * MIN,
    }],
  };
  for (let i = 0; i < 500 && !port; i++) await sleep(10);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 500; i++) {
    const { status, body } = await get(base, `/state/sessionize/${p1}`);
    if (status === 200 && (body as typeof sessions).sessions[0]?.eventCount === 3) break;
    await sleep(10);
  }
  assert.deepEqual(await get(base, `/state/sessionize/${p1}`), { status: 200, body: sessions });
  assert.deepEqual(await get(base, '/state/dedupe/m2'), { status: 200, body: { key: 'm2', firstSeen: T0 + MIN, expiresAt: T0 + 61 * MIN } });
  const person = { personId: p1, identifiers: ['anonymousId:a1', 'userId:u1'], firstSeen: T0, absorbed: [] };
  assert.deepEqual(await get(base, '/state/joinIdentity/userId%3Au1'), { status: 200, body: person });
  assert.deepEqual(await get(base, `/state/joinIdentity/${p1}`), { status: 200, body: person });
  assert.deepEqual(await get(base, `/state/trigger/${p1}`), {
    status: 200,
    body: { key: p1, rules: [{ name: 'cart-abandoned', kind: 'absence', pending: [{ messageId: 'm2', timestamp: T0 + MIN, firesAt: T0 + 31 * MIN }] }] },
  });
  assert.deepEqual(await get(base, '/state/dedupe/m9'), { status: 404, body: { error: 'no state for key "m9" in step "dedupe"' } });
  assert.deepEqual(await get(base, '/state/joinIdentity/userId%3Au9'), { status: 404, body: { error: 'no state for key "userId:u9" in step "joinIdentity"' } });

  // An event 31m + 1ms after the cart, of another person: the watermark passes the cart's
  // deadline (it fires) and the session's end + gap (it closes).
  input.write(JSON.stringify(ev('m4', T0 + 32 * MIN + 1, { anonymousId: 'a2' })) + '\n');
  for (let i = 0; i < 500 && (await get(base, `/state/sessionize/${p1}`)).status === 200; i++) await sleep(10);
  assert.deepEqual(await get(base, `/state/sessionize/${p1}`), { status: 404, body: { error: `no state for key "${p1}" in step "sessionize"` } });
  assert.deepEqual(await get(base, `/state/trigger/${p1}`), { status: 404, body: { error: `no state for key "${p1}" in step "trigger"` } });
  assert.deepEqual(await get(base, '/state/dedupe/m2'), { status: 200, body: { key: 'm2', firstSeen: T0 + MIN, expiresAt: T0 + 61 * MIN } }, 'within its ttl');
  assert.equal((await get(base, `/state/joinIdentity/${p1}`)).status, 200, 'identity never expires');

  input.end();
  const summary = await run;
  assert.equal(summary.interrupted, false);
  assert.deepEqual([summary.streams.sessions, summary.streams['campaign-triggers']], [2, 1]);
});
