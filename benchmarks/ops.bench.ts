/**
 * What the operations endpoint costs a run, and how fast it answers under load:
 *
 *   npm run build && node dist/benchmarks/ops.bench.js [--events 200000] [--seed 1] [--repeat 3]
 *
 * The cart-abandonment pipeline runs embedded over generated events in a child process (the
 * client here is another process, as Prometheus or a model server is), three ways, interleaved:
 * - `no server`: no operations endpoint;
 * - `scraped every 1 s`: /metrics fetched every second (Prometheus at a 1 s scrape interval);
 * - `queried`: GET /state/<step>/<key> one after the other, a new one 10 ms after each answer,
 *   for windowAggregate and sessionize keys of persons of the input.
 * Reports events/s and CPU µs per event per mode (medians), and the latency of the scrapes and
 * of the queries (p50, p99, max over all runs).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { generateEvents, writeEventsNdjson } from '../lib/generate/index.js';
import { personIdFor } from '../operators/join-identity/identifiers.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const events = opt('events', 200_000);
const seed = opt('seed', 1);
const repeat = opt('repeat', 3);
const child = fileURLToPath(new URL('./ops/child.js', import.meta.url));

type Mode = 'no server' | 'scraped every 1 s' | 'queried';
interface Run { events: number; seconds: number; cpu: number; latencies: number[] }

async function timed(url: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url);
  await res.arrayBuffer();
  return performance.now() - t0;
}

async function runOnce(mode: Mode, input: string, keys: string[]): Promise<Run> {
  const p = spawn(process.execPath, [child, JSON.stringify({ input, server: mode !== 'no server' })], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: p.stdout });
  const latencies: number[] = [];
  let done = false;
  let client: Promise<void> = Promise.resolve();
  let last = '';
  for await (const line of lines) {
    const port = /^PORT (\d+)$/.exec(line)?.[1];
    if (port) {
      const base = `http://127.0.0.1:${port}`;
      client = (async () => {
        let i = 0;
        while (!done) {
          try {
            if (mode === 'scraped every 1 s') {
              latencies.push(await timed(`${base}/metrics`));
              await sleep(1000);
            } else {
              const key = keys[i++ % keys.length] as string;
              latencies.push(await timed(`${base}/state/${i % 2 ? 'windowAggregate' : 'sessionize'}/${encodeURIComponent(key)}`));
              await sleep(10);
            }
          } catch {
            return; // the run ended between two requests
          }
        }
      })();
    } else last = line;
  }
  done = true;
  await client;
  const r = JSON.parse(last) as Omit<Run, 'latencies'>;
  return { ...r, latencies };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;

const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-ops-'));
try {
  const input = join(dir, 'events.ndjson');
  const list = [...generateEvents({ events, seed })];
  await writeEventsNdjson(list, createWriteStream(input), { end: true });
  const keys = [...new Set(list.flatMap((e) => (e.userId ? [personIdFor(`userId:${e.userId}`)] : [])))];
  const modes: Mode[] = ['no server', 'scraped every 1 s', 'queried'];
  const runs = new Map<Mode, Run[]>(modes.map((m) => [m, []]));
  for (let round = 1; round <= repeat; round++) {
    for (const m of modes) {
      const r = await runOnce(m, input, keys);
      runs.get(m)?.push(r);
      console.error(`[${round}/${repeat}] ${m}: ${Math.round(r.events / r.seconds)} events/s, ${(r.cpu / r.events).toFixed(1)} CPU µs/event, ${r.latencies.length} requests`);
    }
  }
  console.log(`\ncart-abandonment embedded, ${events} generated events (seed ${seed}), ${repeat} interleaved runs per mode, one process per run\n`);
  console.log('| mode | events/s (median) | CPU µs/event (median) | requests | latency p50 | p99 | max |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const m of modes) {
    const rs = runs.get(m) as Run[];
    const lat = rs.flatMap((r) => r.latencies);
    const ms = (v: number) => (Number.isNaN(v) ? '–' : `${v.toFixed(1)} ms`);
    console.log(`| ${m} | ${Math.round(median(rs.map((r) => r.events / r.seconds)))} | ${median(rs.map((r) => r.cpu / r.events)).toFixed(1)} | ${lat.length} | ${ms(pct(lat, 0.5))} | ${ms(pct(lat, 0.99))} | ${ms(lat.length ? Math.max(...lat) : NaN)} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
