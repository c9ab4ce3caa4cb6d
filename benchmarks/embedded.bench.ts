/**
 * Embedded throughput of single operators and pipelines on the generated stream (SPEC §11).
 *
 *   npm run build && node dist/benchmarks/embedded.bench.js [--events 1000000] [--seed 1]
 *
 * Each case runs in a fresh child process (so peak RSS is its own): the embedded runner over
 * the same NDJSON file with LMDB state (decode, normalise, steps, outputs, checkpoints), and
 * the RxJS operator alone over in-memory events with in-memory state. Prints a Markdown table.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateEvents, writeEventsNdjson } from '../lib/generate/index.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};

interface CaseResult {
  name: string;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  peakRssMb: number;
  heapMb: number;
}

const PIPELINES: Record<string, string> = {
  'embedded: no steps (decode, normalise, write)': 'name: bench-none\nsource: { key: [anonymousId, userId], allowedLateness: 1m }\nsteps: []\n',
  'embedded: dedupe (LMDB state)': 'name: bench-dedupe\nsource: { key: [anonymousId, userId], allowedLateness: 1m }\nsteps:\n  - dedupe: { ttl: 24h, output: duplicates }\n',
  'embedded: joinIdentity (LMDB state)': 'name: bench-identity\nsource: { key: [anonymousId, userId], allowedLateness: 1m }\nsteps:\n  - joinIdentity: { output: identity-merges }\n',
  'embedded: sessionize by device/user (LMDB state)': 'name: bench-sessions\nsource: { key: [anonymousId, userId], allowedLateness: 1m }\nsteps:\n  - sessionize: { key: [userId, anonymousId], gap: 30m, output: sessions }\n',
  'embedded: windowAggregate tumbling 1h, 3 aggregates (LMDB state)': 'name: bench-window\nsource: { key: [anonymousId, userId], allowedLateness: 1m }\nsteps:\n  - windowAggregate: { key: [userId, anonymousId], window: { tumbling: 1h }, aggregates: { views: { count: {}, where: { event: product_viewed } }, revenue: { sum: properties.revenue, where: { event: purchase } }, last: { last: timestamp } }, output: features }\n',
  'embedded: trigger cart abandonment (LMDB state)': 'name: bench-trigger\nsource: { key: [anonymousId, userId], allowedLateness: 1m }\nsteps:\n  - trigger: { key: [userId, anonymousId], rules: [ { name: cart-abandoned, absence: { first: { event: add_to_cart }, then: { event: purchase }, within: 30m }, cooldown: 24h } ], output: campaign-triggers }\n',
  'embedded: dedupe → joinIdentity → sessionize by person': 'name: bench-chain\nsource: { key: [anonymousId, userId], allowedLateness: 1m }\nsteps:\n  - dedupe: { ttl: 24h, output: duplicates }\n  - joinIdentity: { output: identity-merges }\n  - sessionize: { key: personId, gap: 30m, output: sessions }\n',
};

/** RxJS operators measured alone over in-memory events (memory state). */
const RX_CASES = ['dedupe', 'joinIdentity', 'sessionize'] as const;

async function child(): Promise<void> {
  const [mode, a, b] = args.slice(1);
  let peak = 0;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const t0 = performance.now();
  let events: number;
  if (mode === 'embedded') {
    const { loadPipelineFile } = await import('../lib/pipeline/load.js');
    const { compilePipeline } = await import('../lib/pipeline/compile.js');
    const { runEmbedded } = await import('../lib/runtime/embedded.js');
    const { defaultRegistry } = await import('../operators/index.js');
    const topology = compilePipeline(loadPipelineFile(a as string, defaultRegistry), defaultRegistry);
    const summary = await runEmbedded({ topology, input: b as string, outDir: join(tmpdir(), `tributary-bench-${process.pid}`) });
    events = summary.records;
    rmSync(join(tmpdir(), `tributary-bench-${process.pid}`), { recursive: true, force: true });
  } else {
    const { from, lastValueFrom, count } = await import('rxjs');
    const ops = await import('../operators/index.js');
    const operator = {
      dedupe: () => ops.dedupe({ ttl: '24h', allowedLateness: '1m' }),
      joinIdentity: () => ops.joinIdentity({ allowedLateness: '1m' }),
      sessionize: () => ops.sessionize({ key: ['userId', 'anonymousId'], gap: '30m', allowedLateness: '1m' }),
    }[mode as (typeof RX_CASES)[number]];
    const list = [...generateEvents({ events: Number(a), seed: Number(b) })];
    const start = performance.now();
    const passed = await lastValueFrom(from(list).pipe(operator(), count()));
    if (passed === 0) throw new Error('nothing passed');
    events = list.length;
    const seconds = (performance.now() - start) / 1000;
    clearInterval(sample);
    console.log(JSON.stringify({ events, seconds, peakRss: peak, heap: process.memoryUsage().heapUsed }));
    return;
  }
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sample);
  console.log(JSON.stringify({ events, seconds, peakRss: Math.max(peak, process.memoryUsage().rss), heap: process.memoryUsage().heapUsed }));
}

async function main(): Promise<void> {
  const n = arg('events', 1_000_000);
  const seed = arg('seed', 1);
  const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-'));
  const input = join(dir, 'events.ndjson');
  const out = createWriteStream(input);
  await writeEventsNdjson(generateEvents({ events: n, seed }), out, { end: true });
  const self = fileURLToPath(import.meta.url);
  const results: CaseResult[] = [];
  const run = (name: string, childArgs: string[]) => {
    const r = JSON.parse(execFileSync(process.execPath, [self, '--child', ...childArgs], { encoding: 'utf8', maxBuffer: 1 << 26 }).trim().split('\n').at(-1) as string);
    results.push({ name, events: r.events, seconds: r.seconds, eventsPerSecond: r.events / r.seconds, peakRssMb: r.peakRss / 2 ** 20, heapMb: r.heap / 2 ** 20 });
    console.error(`${name}: ${Math.round(r.events / r.seconds)} events/s`);
  };
  for (const [name, yaml] of Object.entries(PIPELINES)) {
    const file = join(dir, `${name.replace(/\W+/g, '-')}.yaml`);
    writeFileSync(file, yaml);
    run(name, ['embedded', file, input]);
  }
  run('embedded: the SPEC §5 pipeline (examples/cart-abandonment)', ['embedded', fileURLToPath(new URL('../../examples/cart-abandonment/pipeline.yaml', import.meta.url)), input]);
  for (const op of RX_CASES) run(`RxJS ${op} operator alone (memory state)`, [op, String(n), String(seed)]);
  rmSync(dir, { recursive: true, force: true });
  console.log(`\n${n} generated events (seed ${seed}), node ${process.version}, one process per case\n`);
  console.log('| case | events/s | seconds | peak RSS MB | heap after MB |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of results) console.log(`| ${r.name} | ${Math.round(r.eventsPerSecond)} | ${r.seconds.toFixed(2)} | ${r.peakRssMb.toFixed(0)} | ${r.heapMb.toFixed(0)} |`);
}

if (args[0] === '--child') await child();
else await main();
