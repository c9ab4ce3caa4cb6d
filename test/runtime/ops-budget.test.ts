// The operations endpoint answers from its own budget: at most 64 requests are served at once;
// one more is a 503 with Retry-After at once (JSON on /state, text elsewhere), and once those
// in flight are answered, requests are served again. A failed scrape names no internal detail.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Gauge, Registry } from 'prom-client';
import { MAX_REQUESTS_IN_FLIGHT } from '../../lib/runtime/ops-admission.js';
import { createOpsServer } from '../../lib/runtime/ops-server.js';

test('64 requests in flight: the 65th is a 503 with Retry-After (JSON on /state, text elsewhere); served again once they are answered', async () => {
  const registry = new Registry();
  let release: () => void = () => {};
  let gate = new Promise<void>((ok) => (release = ok));
  let collecting = 0;
  // A scrape waits for the gate: it stays in flight until the test opens it.
  new Gauge({ name: 'held', help: 'a gauge whose collection waits', registers: [registry], async collect() {
    collecting++;
    await gate;
    this.set(1);
  } });
  const ops = createOpsServer({ registry, read: (step, key) => ({ step, key }), log: () => {} });
  const base = `http://127.0.0.1:${await ops.listen(0)}`;
  try {
    assert.equal(MAX_REQUESTS_IN_FLIGHT, 64);
    const held = Array.from({ length: 64 }, () => fetch(`${base}/metrics`));
    // They share one collection (scrapes that come while one is under way do), held at the
    // gate; each is a request in flight until it is answered.
    for (let i = 0; i < 500 && collecting < 1; i++) await new Promise((ok) => setTimeout(ok, 10));
    assert.equal(collecting, 1, 'one collection for the 64 scrapes');
    await new Promise((ok) => setTimeout(ok, 200)); // the 64 requests reach the server

    const state = await fetch(`${base}/state/features/u1`);
    assert.deepEqual([state.status, state.headers.get('retry-after'), state.headers.get('content-type'), await state.text()],
      [503, '1', 'application/json; charset=utf-8', '{"error":"busy: 64 requests are being answered; retry after 1 s"}']);
    const health = await fetch(`${base}/healthz`);
    assert.deepEqual([health.status, health.headers.get('retry-after'), await health.text()], [503, '1', 'busy: 64 requests are being answered; retry after 1 s\n']);

    release();
    const statuses = await Promise.all(held.map(async (p) => (await p).status));
    assert.deepEqual(statuses, Array<number>(64).fill(200));
    const again = await fetch(`${base}/state/features/u1`);
    assert.deepEqual([again.status, await again.text()], [200, '{"step":"features","key":"u1"}']);
    gate = Promise.resolve();
  } finally {
    await ops.close();
  }
});

test('a scrape that fails: 500 whose body names no internal detail; the error goes to the log', async () => {
  const registry = new Registry();
  new Gauge({ name: 'broken', help: 'a gauge whose collection fails', registers: [registry], collect() {
    throw new Error('EACCES: permission denied, open /proc/self/secret');
  } });
  const logged: string[] = [];
  const ops = createOpsServer({ registry, log: (line) => logged.push(line) });
  const base = `http://127.0.0.1:${await ops.listen(0)}`;
  try {
    const res = await fetch(`${base}/metrics`);
    assert.deepEqual([res.status, await res.text()], [500, 'collecting the metrics failed; the error is in the run\'s log\n']);
    assert.deepEqual(logged, ['operations endpoint: collecting /metrics failed: Error: EACCES: permission denied, open /proc/self/secret']);
  } finally {
    await ops.close();
  }
});
