// The operations endpoint of `tributary run` while the run processes: 1,000 concurrent /state
// requests are each answered (200 with the key's state, or 503 with Retry-After beyond the
// budget), none reset, and processing goes on meanwhile. The latency of single requests while
// the run processes is reported as a diagnostic, never asserted (the machine is shared).
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateEvents } from '../../lib/generate/index.js';
import { startServingRun } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const pipeline = `name: loaded
source: { key: [userId, anonymousId], allowedLateness: 1h }
steps:
  - dedupe: { key: messageId, ttl: 99999d }
  - windowAggregate:
      key: [anonymousId, userId]
      window: { sliding: 1h }
      aggregates: { views: { count: {} } }
`;

interface Answer { status: number; body: string; retryAfter: string | undefined }

/** One GET on its own connection (no keep-alive): a status and body, or the socket error. */
function get(agent: Agent, url: string): Promise<Answer | { error: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, retryAfter: res.headers['retry-after'] }));
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

test('1,000 concurrent /state requests while a run processes: each a 200 or a 503 with Retry-After, none reset, processing goes on', async (t) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'p.yaml'), pipeline);
  const events = [...generateEvents({ events: 60_000, seed: 3 })];
  const first = events[0] as { messageId: string; timestamp: number };
  const run = await startServingRun(['run', join(dir, 'p.yaml'), '--input', '-', '--out-dir', join(dir, 'out'), '--metrics-port', '0', '-q']);
  const { child, base } = run;
  child.stdin.write(events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const processed = async () => {
    const r = await get(agent, `${base}/readyz`);
    return 'status' in r ? Number(/(\d+) records processed/.exec(r.body)?.[1] ?? -1) : -1;
  };
  let before = 0;
  for (let i = 0; i < 1000 && before === 0; i++) {
    before = await processed();
    if (before === 0) await sleep(5);
  }
  assert.ok(before > 0 && before < events.length, `the run is processing (${before} of ${events.length})`);

  const url = `${base}/state/dedupe/${encodeURIComponent(first.messageId)}`;
  const answers = await Promise.all(Array.from({ length: 1000 }, () => get(agent, url)));
  const after = await processed();
  const errors = answers.filter((a) => 'error' in a);
  assert.deepEqual(errors, [], 'no request was reset or refused');
  const ok = answers.filter((a): a is Answer => 'status' in a && a.status === 200);
  const busy = answers.filter((a): a is Answer => 'status' in a && a.status === 503);
  assert.equal(ok.length + busy.length, 1000, 'every answer is a 200 or a 503');
  const state = JSON.parse((ok[0] as Answer).body) as { key: string; firstSeen: number };
  assert.deepEqual([state.key, state.firstSeen], [first.messageId, first.timestamp]);
  assert.ok(ok.every((a) => a.body === (ok[0] as Answer).body), 'every 200 has the same state');
  assert.ok(busy.every((a) => a.retryAfter === '1' && a.body === '{"error":"busy: 64 requests are being answered; retry after 1 s"}'));
  assert.ok(after > before, `processing went on while the requests were answered (${before} → ${after})`);
  t.diagnostic(`1000 concurrent: ${ok.length} × 200, ${busy.length} × 503; records processed ${before} → ${after} of ${events.length}`);

  // Single requests while the run processes: how long each waits (reported, not asserted).
  const latencies: number[] = [];
  while (latencies.length < 200 && (await processed()) < events.length) {
    const t0 = performance.now();
    const r = await get(agent, url);
    latencies.push(performance.now() - t0);
    assert.equal('status' in r && r.status, 200);
    await sleep(10);
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => (latencies[Math.min(latencies.length - 1, Math.floor((latencies.length * p) / 100))] ?? 0).toFixed(1);
  t.diagnostic(`single /state requests while processing: n=${latencies.length}, p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${pct(100)} ms`);

  child.stdin.end();
  assert.equal(await run.exited, 0, run.stderr());
  agent.destroy();
});
