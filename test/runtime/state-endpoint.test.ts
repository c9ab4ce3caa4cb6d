import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServingRun } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const pipeline = `name: features
source: { key: [userId, anonymousId] }
steps:
  - windowAggregate:
      name: features
      key: userId
      window: { sliding: 7d }
      aggregates:
        orders: { count: {}, where: { event: purchase } }
        revenue: { sum: properties.revenue, where: { event: purchase } }
      output: customer-features
`;
const line = (id: string, t: number, event: string, revenue?: number) =>
  JSON.stringify({ messageId: id, type: 'track', event, userId: 'u1', timestamp: t, properties: revenue === undefined ? {} : { revenue } }) + '\n';

test('tributary run --state-port: current values per key are readable over HTTP while the pipeline runs', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'p.yaml'), pipeline);
  const run = await startServingRun(['run', join(dir, 'p.yaml'), '--input', '-', '--out-dir', join(dir, 'out'), '--state-port', '0', '-q']);
  const { child, base } = run;
  try {
    child.stdin.write(line('m1', 1000, 'purchase', 30) + line('m2', 2000, 'product_viewed') + line('m3', 3000, 'purchase', 12.5));
    let body: unknown;
    // Until the values are there (a busy machine can take seconds), at most 60 s.
    for (const until = performance.now() + 60_000; performance.now() < until; ) {
      const res = await fetch(`${base}/state/features/u1`);
      if (res.status === 200) {
        body = await res.json();
        if ((body as { values?: { orders?: number } }).values?.orders === 2) break;
      }
      await sleep(10);
    }
    assert.deepEqual((body as { values: unknown }).values, { orders: 2, revenue: 42.5 });
    assert.equal((await fetch(`${base}/state/features/nobody`)).status, 404);
    assert.equal((await fetch(`${base}/state/no-such-step/u1`)).status, 404);

    child.stdin.end();
    assert.equal(await run.exited, 0, run.stderr());
  } finally {
    child.kill(); // a failed assertion must not leave the run waiting on its stdin (and the test file with it)
  }
});
