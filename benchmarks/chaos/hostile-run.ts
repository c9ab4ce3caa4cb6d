/**
 * `hostile`: the hostile input (see hostile.ts) through a pipeline with a store keyed by
 * messageId (dedupe), one keyed by the identifiers (joinIdentity) and a `$regex` filter —
 * embedded (a file, run by the CLI) and through Kafka (each record's raw bytes as a message
 * value, in order, on one partition). Every record is traced to where it ended (a dead letter
 * by its line / offset, an output record by its messageId) and tallied by class against
 * {@link EXPECTED}.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Kafka, logLevel } from 'kafkajs';
import { compilePipeline } from '../../lib/pipeline/compile.js';
import { loadPipelineFile } from '../../lib/pipeline/load.js';
import { defaultRegistry } from '../../operators/index.js';
import { readEmbedded, readStream } from './compare.js';
import { EXPECTED, hostileInput, type Outcome } from './hostile.js';
import { adapterFor, chaosSuffix, deleteTopicsLike } from './pipeline.js';
import { BIN, ROOT } from './runner.js';

export interface HostileRun {
  mode: 'embedded' | 'kafka';
  exit: number | null;
  seconds: number;
  stderrTail: string;
  /** class → where its records ended → count */
  outcomes: Record<string, Record<string, number>>;
  /** classes with records not where {@link EXPECTED} says (counts of what was seen instead) */
  unexpected: Record<string, Record<string, number>>;
  deadLettersByReason: Record<string, number>;
  /** good records (class good) accounted for in events/late, of all */
  good: { total: number; accounted: number; late: number };
}

const STREAMS = ['events', 'late', 'not-matching'] as const;

function label(o: Outcome): string {
  return 'deadLetter' in o ? `dead-letter:${o.deadLetter}` : 'stream' in o ? o.stream : 'skipped';
}

function definition(suffix: string) {
  return {
    name: `chaos-hostile-${suffix}`,
    source: { topic: `hostile-${suffix}`, format: 'json', key: ['anonymousId', 'userId'], timestamp: 'timestamp', allowedLateness: '1m', idleTimeout: '10m' },
    steps: [
      { dedupe: { key: 'messageId', ttl: '24h' } },
      { joinIdentity: { identifiers: ['userId', 'anonymousId'] } },
      { filter: { where: { $or: [{ 'properties.q': { $exists: false } }, { 'properties.q': { $regex: '^(a+)+$' } }] }, output: 'not-matching' } },
    ],
    sink: { topic: `hostile-events-${suffix}` },
  };
}

/** Tallies where each record went: `dead` maps a line / offset (0-based) to its reason, `seen` a messageId to its stream. */
function tally(mode: 'embedded' | 'kafka', classes: string[], ids: Array<string | undefined>, dead: Map<number, string>, seen: Map<string, string[]>) {
  const outcomes: Record<string, Record<string, number>> = {};
  const unexpected: Record<string, Record<string, number>> = {};
  let goodTotal = 0;
  let goodAccounted = 0;
  let goodLate = 0;
  classes.forEach((cls, i) => {
    const id = ids[i];
    const where = dead.has(i) ? `dead-letter:${dead.get(i)!}` : id !== undefined && seen.get(id)?.length ? seen.get(id)!.shift()! : mode === 'embedded' && EXPECTED[cls]?.embedded && 'skipped' in EXPECTED[cls].embedded ? 'skipped' : 'missing';
    (outcomes[cls] ??= {})[where] = (outcomes[cls][where] ?? 0) + 1;
    const want = label(EXPECTED[cls]![mode]);
    if (where !== want) (unexpected[cls] ??= {})[where] = (unexpected[cls][where] ?? 0) + 1;
    if (cls === 'good') {
      goodTotal++;
      if (where === 'events' || where === 'late') goodAccounted++;
      if (where === 'late') goodLate++;
    }
  });
  return { outcomes, unexpected, good: { total: goodTotal, accounted: goodAccounted, late: goodLate } };
}

function reasons(dead: Map<number, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of dead.values()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

export interface HostileOptions { good: number; seed: number; exclude: string[] }

export async function hostileScenario(dir: string, brokers: string[] | undefined, o: HostileOptions, log: (l: string) => void): Promise<HostileRun[]> {
  const suffix = chaosSuffix();
  const file = join(dir, `chaos-hostile-${suffix}.yaml`);
  writeFileSync(file, stringify(definition(suffix)));
  const topology = compilePipeline(loadPipelineFile(file, defaultRegistry), defaultRegistry);
  const classes: string[] = [];
  const ids: Array<string | undefined> = [];
  const input = join(dir, 'hostile.ndjson');
  const fd = openSync(input, 'w');
  for (const r of hostileInput(o.good, o.seed, o.exclude)) {
    classes.push(r.cls);
    ids.push(r.messageId);
    writeSync(fd, r.bytes);
    writeSync(fd, '\n');
  }
  closeSync(fd);
  log(`hostile: ${classes.length} records written to ${input}`);
  const runs: HostileRun[] = [];

  // embedded, as a user runs it
  const out = join(dir, 'hostile-out');
  let t0 = performance.now();
  const e = spawnSync(process.execPath, [BIN, 'run', file, '--input', input, '--out-dir', out, '--quiet'], { cwd: ROOT, encoding: 'utf8', timeout: 900_000, maxBuffer: 64 << 20 });
  const seconds = (performance.now() - t0) / 1000;
  log(`hostile embedded: exit ${e.status} in ${seconds.toFixed(0)} s`);
  {
    const dead = new Map<number, string>();
    for (const d of readEmbedded(out, 'dead-letter') as Array<{ reason: string; source?: string; origin?: string; line?: number }>) {
      const line = d.line ?? Number(/:(\d+)$/.exec(d.source ?? '')?.[1]);
      dead.set(line - 1, d.reason);
    }
    const seen = new Map<string, string[]>();
    for (const s of STREAMS) for (const r of readEmbedded(out, s) as Array<{ messageId: string }>) (seen.get(r.messageId) ?? seen.set(r.messageId, []).get(r.messageId)!).push(s);
    runs.push({ mode: 'embedded', exit: e.status, seconds, stderrTail: e.stderr.trim().slice(-600), ...tally('embedded', classes, ids, dead, seen), deadLettersByReason: reasons(dead) });
  }
  if (!brokers) return runs;

  // through Kafka: raw bytes as values, in order, one partition (offset = record index)
  const adapter = adapterFor(brokers);
  const source = topology.source.topic!;
  try {
    const admin = await adapter.admin();
    try {
      await admin.createTopics([{ name: source, partitions: 1, replicationFactor: 1, configs: { 'max.message.bytes': String(8 * 1024 * 1024) } }]);
    } finally {
      await admin.disconnect();
    }
    const kafka = new Kafka({ clientId: 'tributary-chaos-hostile', brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      let batch: Array<{ value: Buffer; partition: number }> = [];
      let bytes = 0;
      const flush = async () => {
        if (batch.length > 0) await producer.send({ topic: source, acks: -1, messages: batch });
        batch = [];
        bytes = 0;
      };
      for (const r of hostileInput(o.good, o.seed, o.exclude)) {
        batch.push({ value: r.bytes, partition: 0 });
        bytes += r.bytes.length;
        if (batch.length >= 500 || bytes > 512 * 1024) await flush();
      }
      await flush();
    } finally {
      await producer.disconnect();
    }
    log(`hostile kafka: ${classes.length} records produced to ${source}; running bounded`);
    t0 = performance.now();
    const k = spawnSync(process.execPath, [BIN, 'run', file, '--brokers', brokers.join(','), '--state-dir', join(dir, 'hostile-state'), '--bounded', '--final', '--quiet'], { cwd: ROOT, encoding: 'utf8', timeout: 900_000, maxBuffer: 64 << 20 });
    const kSeconds = (performance.now() - t0) / 1000;
    log(`hostile kafka: exit ${k.status} in ${kSeconds.toFixed(0)} s`);
    const dead = new Map<number, string>();
    const deadStream = topology.streams.find((s) => s.name === 'dead-letter')!;
    for (const d of await readStream(adapter, deadStream) as Array<{ reason: string; source: string }>) {
      const offset = Number(/(\d+)$/.exec(d.source)?.[1]);
      dead.set(offset, d.reason);
    }
    const seen = new Map<string, string[]>();
    for (const name of STREAMS) {
      const s = topology.streams.find((x) => x.name === name);
      if (!s) continue;
      for (const r of await readStream(adapter, s) as Array<{ messageId: string }>) (seen.get(r.messageId) ?? seen.set(r.messageId, []).get(r.messageId)!).push(name);
    }
    runs.push({ mode: 'kafka', exit: k.status, seconds: kSeconds, stderrTail: k.stderr.trim().slice(-600), ...tally('kafka', classes, ids, dead, seen), deadLettersByReason: reasons(dead) });
  } finally {
    await deleteTopicsLike(adapter, suffix);
  }
  return runs;
}
