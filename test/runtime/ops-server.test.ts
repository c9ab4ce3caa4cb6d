// The operations handler on its own: /metrics of a given registry (with prom-client's default
// metrics), /healthz from progress beats, /readyz from the caller's probe, /state through the
// caller's reader, 404/405; and the README's metrics table is the one the metric module makes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { test } from 'node:test';
import { Gauge, Registry } from 'prom-client';
import { createMetrics } from '../../lib/metrics/metrics.js';
import { metricsCatalogue, metricsTable } from '../../lib/metrics/catalogue.js';
import { createOpsServer, livenessOf, Liveness } from '../../lib/runtime/ops-server.js';
import { StateNotFound } from '../../lib/runtime/state-server.js';
import { parseSamples, sampleSum } from '../support/prom-text.js';

test('liveness: healthy while the last progress is at most stallMs old, with the reason in one line', () => {
  assert.deepEqual(livenessOf(1500, 60_000, 2.04), { ok: true, detail: 'last progress 1.5 s ago (event loop delay p99 2.0 ms)' });
  assert.deepEqual(livenessOf(60_000, 60_000, 0), { ok: true, detail: 'last progress 60.0 s ago (event loop delay p99 0.0 ms)' });
  assert.deepEqual(livenessOf(61_000, 60_000, 0), { ok: false, detail: 'stalled: last progress 61.0 s ago (event loop delay p99 0.0 ms), more than 60 s' });
  const alive = new Liveness(50);
  const t0 = performance.now();
  alive.beat();
  assert.equal(alive.probe(t0 + 10).ok, true);
  assert.equal(alive.probe(performance.now() + 100).ok, false);
  alive.stop();
});

test('the operations server: /metrics, /healthz, /readyz, /state and errors', async () => {
  const registry = new Registry();
  const metrics = createMetrics(registry);
  metrics.recordsIn.inc({ pipeline: 'p', step: 'dedupe' }, 7);
  let ready = false;
  let scrapes = 0;
  const ops = createOpsServer({
    registry,
    ready: () => (ready ? { ok: true, detail: 'processing 2 tasks' } : { ok: false, detail: 'restoring task 0_1' }),
    health: () => ({ ok: false, detail: 'stalled: test' }),
    read: (step, key) => {
      if (step !== 'dedupe') return undefined;
      if (key === 'elsewhere') throw new StateNotFound('key "elsewhere" is in partition 2 (task 0_2), which this instance does not hold');
      return { key, firstSeenAt: 1000 };
    },
    onScrape: () => scrapes++,
  });
  const port = await ops.listen(0);
  const base = `http://127.0.0.1:${port}`;
  try {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    const samples = parseSamples(await res.text());
    assert.equal(sampleSum(samples, 'tributary_step_records_in_total', { pipeline: 'p', step: 'dedupe' }), 7);
    assert.ok(samples.some((s) => s.name === 'nodejs_heap_size_used_bytes'));
    assert.equal(scrapes, 1);
    const text = async (path: string) => {
      const r = await fetch(`${base}${path}`);
      return [r.status, await r.text()];
    };
    assert.deepEqual(await text('/readyz'), [503, 'not ok: restoring task 0_1\n']);
    ready = true;
    assert.deepEqual(await text('/readyz'), [200, 'ok: processing 2 tasks\n']);
    assert.deepEqual(await text('/healthz'), [503, 'not ok: stalled: test\n']);
    assert.deepEqual(await text('/state/dedupe/m%2F1'), [200, '{"key":"m/1","firstSeenAt":1000}']);
    assert.deepEqual(await text('/state/dedupe/elsewhere'), [404, '{"error":"key \\"elsewhere\\" is in partition 2 (task 0_2), which this instance does not hold"}']);
    assert.deepEqual(await text('/nothing'), [404, 'no such resource /nothing (GET /metrics, /healthz, /readyz, /state/<step>/<key>)\n']);
    assert.equal((await fetch(`${base}/readyz`, { method: 'DELETE' })).status, 405);
    // A second server on the same registry: prom-client's default metrics are registered once.
    const other = createOpsServer({ registry });
    const second = await other.listen(0);
    assert.equal((await fetch(`http://127.0.0.1:${second}/metrics`)).status, 200);
    assert.deepEqual(await (await fetch(`http://127.0.0.1:${second}/healthz`)).text(), 'ok: up\n');
    await other.close();
    await assert.rejects(createOpsServer({ registry }).listen(port), /port \d+ on 127\.0\.0\.1 is in use: choose another \(--metrics-port, --state-port\)/);
  } finally {
    await ops.close();
  }
});

test('README: the metrics table is the one lib/metrics makes (npm run docs:metrics rewrites it)', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const table = /<!-- metrics-table:start -->\n([\s\S]*?)\n<!-- metrics-table:end -->/.exec(readme)?.[1];
  assert.equal(table, metricsTable());
  const names = metricsCatalogue().map((m) => m.name);
  assert.equal(new Set(names).size, names.length);
  for (const m of metricsCatalogue()) {
    assert.match(m.name, /^tributary_[a-z_]+$/);
    if (m.type === 'counter') assert.match(m.name, /_total$/, `${m.name}: counters end in _total`);
    assert.ok(m.labels[0] === 'pipeline', `${m.name}: labelled by pipeline first`);
    assert.ok(m.help.length > 10, `${m.name}: has HELP text`);
  }
});

// A flood of /metrics requests (200 clients in a loop) made one collection each: the pipeline
// slowed and /healthz went unanswered for 14 s (an audit). Now at most 10 collections a second;
// a scrape after a change is fresh until a flood.
test('/metrics: a scrape after a change is fresh; a flood of scrapes makes at most 10 collections a second', async () => {
  const registry = new Registry();
  const metrics = createMetrics(registry);
  let collections = 0;
  new Gauge({ name: 'collections', help: 'counts collections', registers: [registry], collect() {
    collections++;
  } });
  const ops = createOpsServer({ registry });
  const port = await ops.listen(0);
  try {
    const sources = async () => sampleSum(parseSamples(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()), 'tributary_source_records_total');
    metrics.sourceRecords.inc({ pipeline: 'p' });
    assert.equal(await sources(), 1);
    metrics.sourceRecords.inc({ pipeline: 'p' });
    assert.equal(await sources(), 2);
    const t0 = performance.now();
    const seen = new Set<number>();
    for (let i = 0; i < 40; i++) {
      metrics.sourceRecords.inc({ pipeline: 'p' });
      seen.add(await sources());
    }
    const seconds = (performance.now() - t0) / 1000;
    assert.ok(seconds < 1, `40 scrapes in ${seconds.toFixed(2)} s: too slow to flood`);
    assert.equal(collections, 10, 'ten collections in the second: the first two and eight of the flood');
    assert.equal(seen.size, 8);
    // A second later: 20 scrapes at once, still at most ten collections (those that come while
    // one is under way share it).
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    const before = collections;
    const values = await Promise.all(Array.from({ length: 20 }, () => sources()));
    assert.ok(collections - before >= 1 && collections - before <= 10, `${collections - before} collections`);
    assert.deepEqual(new Set(values), new Set([42]));
  } finally {
    await ops.close();
  }
});

// Node checks headersTimeout only every connectionsCheckingInterval (30 s by default): a client
// sending its headers a byte at a time held a connection for ~30 s, not 5 (an audit).
test('a client that never finishes its headers is answered 408 within the 5 s header timeout (checked every second)', async () => {
  const ops = createOpsServer({ registry: new Registry() });
  const port = await ops.listen(0);
  try {
    const t0 = performance.now();
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n'));
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    const seconds = (performance.now() - t0) / 1000;
    assert.match(reply, /^HTTP\/1\.1 408 /);
    assert.ok(seconds >= 4.5 && seconds < 7.5, `closed after ${seconds.toFixed(1)} s`);
  } finally {
    await ops.close();
  }
});
