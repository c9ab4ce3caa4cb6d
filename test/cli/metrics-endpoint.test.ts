// `tributary run --metrics-port` as a user runs it (stdin in, so the run lasts while the test
// scrapes): /metrics in the Prometheus text format with exact values for what was sent (records,
// dead letters by reason, duplicates, data quality), /readyz and /healthz, a 404, then a clean exit.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServingRun } from '../support/cli.js';
import { parseSamples, sampleSum, type Sample } from '../support/prom-text.js';
import { tempDir } from '../support/tmp.js';

const pipeline = `name: quality
source: { key: [anonymousId, userId], allowedLateness: 1h }
steps:
  - dedupe: { key: messageId, ttl: 1h }
  - joinIdentity: { identifiers: [userId, anonymousId] }
`;

/** 10 events (6 with userId u1, 8 with an anonymousId), 3 copies, 2 undecodable lines, 1 without any key. */
function input(): { text: string; maxTime: number } {
  const lines: string[] = [];
  const t0 = 1_767_000_000_000;
  for (let i = 1; i <= 10; i++) {
    lines.push(JSON.stringify({
      messageId: `m${i}`, type: 'track', event: 'product_viewed', timestamp: t0 + i * 1000,
      ...(i <= 8 ? { anonymousId: `a${i}` } : {}), ...(i <= 4 || i >= 9 ? { userId: 'u1' } : {}),
    }));
  }
  lines.push(lines[0] as string, lines[1] as string, lines[2] as string);
  lines.push('not json', '{"broken":');
  lines.push(JSON.stringify({ messageId: 'm-nokey', type: 'track', event: 'product_viewed', timestamp: t0 }));
  return { text: lines.join('\n') + '\n', maxTime: t0 + 10_000 };
}

test('tributary run --metrics-port: exact records, dead letters, duplicates and data-quality series; ready and healthy while running', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'p.yaml'), pipeline);
  const run = await startServingRun(['run', join(dir, 'p.yaml'), '--input', '-', '--out-dir', join(dir, 'out'), '--metrics-port', '0', '--checkpoint-every', '4', '-q']);
  const { child, base } = run;
  const { text, maxTime } = input();
  child.stdin.write(text);

  let samples: Sample[] = [];
  for (let i = 0; i < 500; i++) {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    samples = parseSamples(await res.text());
    if (sampleSum(samples, 'tributary_source_records_total') === 16 && sampleSum(samples, 'tributary_last_event_time_seconds') > 0) break;
    await sleep(10);
  }
  const sum = (name: string, labels: Record<string, string> = {}) => sampleSum(samples, name, { pipeline: 'quality', ...labels });
  assert.deepEqual({
    source: sum('tributary_source_records_total'),
    malformed: sum('tributary_dead_letter_records_total', { reason: 'malformed-json' }),
    noKey: sum('tributary_dead_letter_records_total', { reason: 'missing-key' }),
    invalidMalformed: sum('tributary_source_invalid_records_total', { source: 'stdin', reason: 'malformed-json' }),
    invalidNoKey: sum('tributary_source_invalid_records_total', { source: 'stdin', reason: 'missing-key' }),
    duplicates: sum('tributary_step_records_dropped_total', { step: 'dedupe', reason: 'duplicate' }),
    dedupeIn: sum('tributary_step_records_in_total', { step: 'dedupe' }),
    joinIn: sum('tributary_step_records_in_total', { step: 'joinIdentity' }),
    missingAnonymousId: sum('tributary_source_missing_field_total', { field: 'anonymousId' }),
    missingUserId: sum('tributary_source_missing_field_total', { field: 'userId' }),
    lastEventTime: sum('tributary_last_event_time_seconds'),
    identifiers: sum('tributary_store_entries', { task: 'embedded', store: 'joinIdentity.ids' }),
    ready: sum('tributary_ready'),
  }, {
    source: 16, malformed: 2, noKey: 1, invalidMalformed: 2, invalidNoKey: 1, duplicates: 3, dedupeIn: 13, joinIn: 10,
    // the event without a key misses both; events 9-10 have no anonymousId, 5-8 no userId
    missingAnonymousId: 3, missingUserId: 5, lastEventTime: maxTime / 1000, identifiers: 9, ready: 1,
  });
  assert.ok(sampleSum(samples, 'tributary_store_bytes', { store: 'joinIdentity.ids' }) >= 4096, 'the store has at least one LMDB page');
  assert.ok(sampleSum(samples, 'tributary_store_operations_total', { store: 'joinIdentity.ids', operation: 'put' }) >= 9);
  assert.ok(samples.some((s) => s.name === 'process_cpu_seconds_total'), 'prom-client default process metrics are served');
  assert.ok(samples.some((s) => s.name === 'tributary_watermark_seconds' && s.labels.task === 'embedded'));

  const ready = await fetch(`${base}/readyz`);
  assert.deepEqual([ready.status, await ready.text()], [200, 'ok: running: 16 records processed\n']);
  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  assert.match(await health.text(), /^ok: last progress \d+\.\d s ago \(event loop delay p99 \d+\.\d ms\)\n$/);
  const missing = await fetch(`${base}/nope`);
  assert.equal(missing.status, 404);
  assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);

  child.stdin.end();
  assert.equal(await run.exited, 0, run.stderr());
});
