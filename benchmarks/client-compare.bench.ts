/**
 * Kafka clients compared on one broker: kafkajs (Tributary's default, behind
 * lib/runtime/kafka/client.ts) and @platformatic/kafka (pure JS; NOT a dependency of Tributary:
 * this script imports it dynamically and says how to install it when it is missing).
 *
 *   npm i --no-save @platformatic/kafka        # on Node 20 npm picks 1.35.x (2.x needs Node ≥ 22.22)
 *   npm run build && node dist/benchmarks/client-compare.bench.js
 *
 * Cases, each in a child process of its own (so its peak RSS and CPU time are its own):
 *   produce   BENCH_EVENTS generated JSON events (~330 bytes, keyed by anonymousId/userId) into a
 *             BENCH_PARTITIONS topic, acks=all, idempotent, one awaited send per BENCH_BATCH records
 *             (as the runner's commits send: sequential batches, each waiting for its acks)
 *   consume   a fresh consumer group reads those records back from the beginning (no commits);
 *             every client reads the same topic (the one kafkajs produced in that round)
 *   latency   producer and consumer in one process: BENCH_LATENCY_RATE events/s for
 *             BENCH_LATENCY_SECONDS in sends every ~10 ms; latency = arrival − send() call, per record
 * Both clients get the adapter's settings: idempotent producer with one request in flight, Java
 * murmur2 partitioning (@platformatic/kafka's `compatibilityPartitioner`; its default partitioner
 * places ~half of the keys elsewhere on 3 partitions), fetch wait 500 ms, 1 MiB per partition,
 * read_committed.
 *
 * Broker: one of its own (test/support/own-broker.ts: the Maven KRaft broker on free ports, C2
 * unless KAFKA_JVM_OPTS says otherwise), stopped at the end; or KAFKA_BROKERS=host:port.
 * Sizes (defaults): BENCH_EVENTS=200000 BENCH_PARTITIONS=3 BENCH_BATCH=500 BENCH_LATENCY_RATE=2000
 *   BENCH_LATENCY_SECONDS=15 BENCH_ROUNDS=2 BENCH_CLIENTS=kafkajs,platformatic
 *   BENCH_CASES=produce,consume,latency
 * Prints Markdown tables (stdout) and progress (stderr).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import type { TributaryEvent } from '../lib/event/event.js';
import { resolveKey } from '../lib/event/key.js';
import { generateEvents } from '../lib/generate/index.js';

const { Kafka, logLevel, Partitioners } = kafkajs;

const env = (name: string, dflt: string) => process.env[name]?.trim() || dflt;
const num = (name: string, dflt: number) => Number(env(name, String(dflt)));
const list = (name: string, dflt: string) => env(name, dflt).split(',').map((s) => s.trim()).filter(Boolean);
const SELF = fileURLToPath(import.meta.url);
const log = (s: string) => process.stderr.write(`${s}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = (b: number) => (b / 2 ** 20).toFixed(0);
const uniqueSuffix = () => `${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

const FETCH_WAIT_MS = 500;
const MAX_BYTES_PER_PARTITION = 1 << 20;
const SESSION_TIMEOUT_MS = 30_000;
const HEARTBEAT_MS = 3_000;

// ---- @platformatic/kafka, typed loosely (not a dependency: tsc must pass without it) ----------

const PLATFORMATIC: string = '@platformatic/kafka';
const INSTALL_HINT = `@platformatic/kafka is not installed. It is not a dependency of Tributary; for this benchmark run\n  npm i --no-save @platformatic/kafka\n(on Node 20 npm picks 1.35.x; 2.x needs Node >= 22.22), or BENCH_CLIENTS=kafkajs to measure kafkajs alone.`;

/** The parts of @platformatic/kafka used here. */
interface PltMessage {
  key?: Buffer;
  value: Buffer;
  topic: string;
  partition: number;
  offset: bigint;
}
interface PltStream {
  on(event: 'data', listener: (message: PltMessage) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  close(): Promise<void>;
}
interface PltProducer {
  send(options: { messages: Array<{ topic: string; key?: Buffer; value: Buffer }> }): Promise<unknown>;
  close(force?: boolean): Promise<void>;
}
interface PltConsumer {
  consume(options: Record<string, unknown>): Promise<PltStream>;
  on(event: 'consumer:group:join', listener: (payload: { assignments?: unknown[] }) => void): unknown;
  close(force?: boolean): Promise<void>;
}
interface PltModule {
  Producer: new (options: Record<string, unknown>) => PltProducer;
  Consumer: new (options: Record<string, unknown>) => PltConsumer;
  compatibilityPartitioner: unknown;
  FetchIsolationLevels: { READ_COMMITTED: number };
}

/** @platformatic/kafka, or undefined when it is not installed. */
async function loadPlatformatic(): Promise<PltModule | undefined> {
  try {
    return (await import(PLATFORMATIC)) as PltModule;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_MODULE_NOT_FOUND' && err.message.includes(`'${PLATFORMATIC}'`)) return undefined;
    throw e;
  }
}

function versionOf(client: string): string {
  try {
    const pkg = client === 'kafkajs'
      ? createRequire(import.meta.url).resolve('kafkajs/package.json')
      : join(dirname(fileURLToPath(import.meta.resolve(PLATFORMATIC))), '..', 'package.json');
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

// ---- child: one case of one client ---------------------------------------------------------

type Client = 'kafkajs' | 'platformatic';
const LABEL: Record<Client, string> = { kafkajs: 'kafkajs', platformatic: '@platformatic/kafka' };

interface Rec { key: Buffer | undefined; value: Buffer }

interface LatencyFigures {
  sent: number; received: number; repeated: number; sends: number; maxSendMs: number; produceSeconds: number;
  p50: number; p95: number; p99: number; max: number;
}

interface CaseResult {
  client: Client; case: string; records: number;
  /** Client creation → last ack (produce) / last record (consume). */
  seconds: number;
  /** Consume: the first record's arrival after client creation (group join and first fetch). */
  firstSeconds?: number;
  latency?: LatencyFigures;
  /** RSS before the client was created (the child's data already in memory) and the peak after. */
  baseRss: number; peakRss: number;
  /** CPU seconds (user + system) of the child during the measured part. */
  cpuSeconds: number;
  partitionCounts?: number[];
}

function records(n: number, seed: number): Rec[] {
  const out: Rec[] = [];
  let seq = 0;
  for (const e of generateEvents({ events: n, seed }) as Iterable<TributaryEvent>) {
    const k = resolveKey(e, ['anonymousId', 'userId']);
    // seq first: the latency case finds a record's send time by it (generated duplicates share messageIds).
    out.push({ key: k === undefined ? undefined : Buffer.from(String(k)), value: Buffer.from(JSON.stringify({ seq: seq++, ...e })) });
  }
  return out;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** An idempotent producer (acks=all, one request in flight): `send` resolves after the records' acks. */
interface BenchProducer {
  send(topic: string, recs: Rec[]): Promise<void>;
  close(): Promise<void>;
}

/** What one client must do for the three cases. */
interface Driver {
  producer(): Promise<BenchProducer>;
  /** Joins `group` and reads `topic` from the beginning, handing over records as they arrive; resolves once joined. */
  consume(topic: string, group: string, onRecords: (values: Buffer[]) => void): Promise<() => Promise<void>>;
}

function kafkajsDriver(brokers: string[]): Driver {
  const kafka = new Kafka({ clientId: `client-compare-${process.pid}`, brokers, logLevel: logLevel.NOTHING });
  return {
    async producer() {
      const producer = kafka.producer({
        idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      return {
        async send(topic, recs) {
          await producer.send({ topic, acks: -1, messages: recs.map((r) => ({ key: r.key ?? null, value: r.value })) });
        },
        close: () => producer.disconnect(),
      };
    },
    async consume(topic, group, onRecords) {
      const consumer = kafka.consumer({
        groupId: group, allowAutoTopicCreation: false, sessionTimeout: SESSION_TIMEOUT_MS, heartbeatInterval: HEARTBEAT_MS,
        maxWaitTimeInMs: FETCH_WAIT_MS, maxBytesPerPartition: MAX_BYTES_PER_PARTITION, readUncommitted: false,
      });
      await consumer.connect();
      const joined = new Promise<void>((ok) => consumer.on(consumer.events.GROUP_JOIN, () => ok()));
      await consumer.subscribe({ topic, fromBeginning: true });
      // As the adapter runs it: eachBatch, resolving explicitly, no auto-commit.
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset }) => {
          onRecords(batch.messages.map((m) => m.value as Buffer));
          resolveOffset(batch.lastOffset());
        },
      });
      await joined;
      return () => consumer.disconnect();
    },
  };
}

function platformaticDriver(plt: PltModule, brokers: string[]): Driver {
  const base = { clientId: `client-compare-${process.pid}`, bootstrapBrokers: brokers, autocreateTopics: false };
  return {
    async producer() {
      // idempotent forces acks=all and one request in flight per connection; Java-compatible murmur2.
      const producer = new plt.Producer({ ...base, idempotent: true, acks: -1, partitioner: plt.compatibilityPartitioner });
      return {
        async send(topic, recs) {
          await producer.send({ messages: recs.map((r) => (r.key ? { topic, key: r.key, value: r.value } : { topic, value: r.value })) });
        },
        close: () => producer.close(),
      };
    },
    async consume(topic, group, onRecords) {
      const consumer = new plt.Consumer({
        ...base, groupId: group, autocommit: false, sessionTimeout: SESSION_TIMEOUT_MS, heartbeatInterval: HEARTBEAT_MS,
        maxWaitTime: FETCH_WAIT_MS, minBytes: 1, isolationLevel: plt.FetchIsolationLevels.READ_COMMITTED,
      });
      const joined = new Promise<void>((ok) => consumer.on('consumer:group:join', () => ok()));
      const stream = await consumer.consume({
        topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false, maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
      });
      stream.on('error', (e) => log(`  @platformatic/kafka stream error: ${e.message}`));
      // Its consumer is a Readable of single messages: one 'data' event per record.
      stream.on('data', (m) => onRecords([m.value]));
      await joined;
      return async () => {
        await stream.close();
        await consumer.close(true);
      };
    },
  };
}

async function child(client: Client, which: string, topic: string, group: string, brokers: string[]): Promise<void> {
  const n = num('BENCH_EVENTS', 200_000);
  const batch = num('BENCH_BATCH', 500);
  const rate = num('BENCH_LATENCY_RATE', 2000);
  const seconds = num('BENCH_LATENCY_SECONDS', 15);
  let driver: Driver;
  if (client === 'kafkajs') driver = kafkajsDriver(brokers);
  else {
    const plt = await loadPlatformatic();
    if (!plt) throw new Error(INSTALL_HINT);
    driver = platformaticDriver(plt, brokers);
  }
  // The records are built before the measured part (JSON encoding is the application's, not the client's).
  const recs = which === 'consume' ? [] : records(which === 'latency' ? Math.round(rate * seconds) : n, which === 'latency' ? 7 : 1);
  const baseRss = process.memoryUsage().rss;
  let peak = baseRss;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = (extra: Partial<CaseResult>, end: number): CaseResult => {
    const cpu = process.cpuUsage(cpu0);
    clearInterval(sample);
    return {
      client, case: which, records: 0, seconds: (end - t0) / 1000, baseRss, cpuSeconds: (cpu.user + cpu.system) / 1e6,
      peakRss: Math.max(peak, process.memoryUsage().rss), ...extra,
    };
  };
  let out: CaseResult;
  if (which === 'produce') {
    const producer = await driver.producer();
    for (let i = 0; i < recs.length; i += batch) await producer.send(topic, recs.slice(i, i + batch));
    out = result({ records: recs.length }, performance.now());
    await producer.close();
  } else if (which === 'consume') {
    let count = 0;
    let first = 0;
    let done: () => void = () => undefined;
    const all = new Promise<void>((ok) => (done = ok));
    const close = await driver.consume(topic, group, (values) => {
      if (count === 0) first = performance.now();
      count += values.length;
      if (count >= n) done();
    });
    const timeout = sleep(300_000).then(() => 'timeout');
    if ((await Promise.race([all, timeout])) === 'timeout') throw new Error(`consume: ${count}/${n} records after 300 s`);
    out = result({ records: count, firstSeconds: (first - t0) / 1000 }, performance.now());
    await close();
  } else if (which === 'latency') {
    const sentAt = new Float64Array(recs.length).fill(NaN);
    const lat: number[] = [];
    let repeated = 0;
    const close = await driver.consume(topic, group, (values) => {
      const now = performance.now();
      for (const v of values) {
        const seq = (JSON.parse(v.toString()) as { seq: number }).seq;
        const t = sentAt[seq] ?? NaN;
        if (Number.isNaN(t)) repeated++;
        else {
          lat.push(now - t);
          sentAt[seq] = NaN;
        }
      }
    });
    const producer = await driver.producer();
    log(`  ${LABEL[client]}: consumer joined; producing ${recs.length} records at ${rate}/s for ${seconds} s`);
    // Every ~10 ms, the records due by then in one awaited send (a slow send makes the next one bigger).
    const p0 = performance.now();
    let sent = 0;
    let sends = 0;
    let maxSendMs = 0;
    while (sent < recs.length) {
      const due = Math.min(recs.length, Math.floor(((performance.now() - p0) / 1000) * rate));
      if (due > sent) {
        const t = performance.now();
        sentAt.fill(t, sent, due);
        await producer.send(topic, recs.slice(sent, due));
        maxSendMs = Math.max(maxSendMs, performance.now() - t);
        sends++;
        sent = due;
      }
      await sleep(10);
    }
    const produceSeconds = (performance.now() - p0) / 1000;
    // The tail: until every record arrived or nothing arrived for 5 s.
    let last = lat.length;
    let quiet = performance.now();
    while (lat.length < recs.length && performance.now() - quiet < 5000) {
      await sleep(50);
      if (lat.length !== last) {
        last = lat.length;
        quiet = performance.now();
      }
    }
    lat.sort((a, b) => a - b);
    const latency: LatencyFigures = {
      sent: recs.length, received: lat.length, repeated, sends, maxSendMs, produceSeconds,
      p50: percentile(lat, 50), p95: percentile(lat, 95), p99: percentile(lat, 99), max: lat.at(-1) ?? NaN,
    };
    out = result({ records: lat.length, latency }, performance.now());
    await producer.close();
    await close();
  } else {
    throw new Error(`unknown case ${which}`);
  }
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
  // Clients may keep timers (kafkajs retries, heartbeats) after close: the result is out, so end here.
  process.exit(0);
}

function runChild(client: Client, which: string, topic: string, group: string, brokers: string): Promise<CaseResult> {
  const proc = spawn(process.execPath, [SELF, '--child', client, which, topic, group, brokers], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d: string) => (out += d));
  return new Promise((ok, fail) => {
    proc.once('exit', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (line) ok(JSON.parse(line.slice(7)) as CaseResult);
      else fail(new Error(`${client} ${which}: child exited with ${signal ?? code} and no result`));
    });
  });
}

// ---- parent: broker, topics, rounds, tables ------------------------------------------------

async function main(): Promise<void> {
  const n = num('BENCH_EVENTS', 200_000);
  const partitions = num('BENCH_PARTITIONS', 3);
  const batch = num('BENCH_BATCH', 500);
  const rate = num('BENCH_LATENCY_RATE', 2000);
  const seconds = num('BENCH_LATENCY_SECONDS', 15);
  const rounds = num('BENCH_ROUNDS', 2);
  const cases = list('BENCH_CASES', 'produce,consume,latency');
  const clients = list('BENCH_CLIENTS', 'kafkajs,platformatic') as Client[];
  for (const c of clients) if (!(c in LABEL)) throw new Error(`unknown client ${c} (kafkajs, platformatic)`);
  if (clients.includes('platformatic') && !(await loadPlatformatic())) {
    console.error(INSTALL_HINT);
    process.exitCode = 1;
    return;
  }
  const versions = Object.fromEntries(clients.map((c) => [c, versionOf(c)])) as Record<Client, string>;

  let brokers = process.env.KAFKA_BROKERS?.trim() ?? '';
  let close: () => Promise<void> = async () => undefined;
  if (!brokers) {
    // C2 for the broker, as benchmarks/kafka.bench.ts was run (the test default is C1 only).
    process.env.KAFKA_JVM_OPTS ??= '-XX:TieredStopAtLevel=4';
    const { startOwnBroker } = await import('../test/support/own-broker.js');
    const broker = await startOwnBroker(log);
    brokers = broker.brokers;
    close = () => broker.close();
  }
  const kafka = new Kafka({ clientId: 'client-compare-admin', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const createTopic = async (name: string) => {
    await admin.createTopics({ waitForLeaders: false, topics: [{ topic: name, numPartitions: partitions }] });
    // kafkajs' waitForLeaders can throw UNKNOWN_TOPIC_OR_PARTITION right after a create: poll instead.
    for (let i = 0; ; i++) {
      try {
        const meta = await admin.fetchTopicMetadata({ topics: [name] });
        if (meta.topics[0]?.partitions.length === partitions && meta.topics[0].partitions.every((x) => x.leader >= 0)) return name;
      } catch (e) {
        if (i > 100) throw e;
      }
      await sleep(100);
    }
  };
  const partitionCounts = async (topic: string) =>
    (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition).map((p) => Number(p.high) - Number(p.low));

  const results: CaseResult[] = [];
  const rows: Record<string, string[]> = { produce: [], consume: [], latency: [] };
  try {
    for (let round = 1; round <= rounds; round++) {
      // Alternate the order between rounds, so neither client always runs first on a fresh topic/JVM state.
      const order = round % 2 === 1 ? clients : [...clients].reverse();
      const suffix = uniqueSuffix();
      const produced: Partial<Record<Client, string>> = {};
      const topics: string[] = [];
      if (cases.includes('produce') || cases.includes('consume')) {
        for (const client of order) {
          const topic = await createTopic(`cc-${client}-r${round}-${suffix}`);
          topics.push(topic);
          const r = await runChild(client, 'produce', topic, '', brokers);
          r.partitionCounts = await partitionCounts(topic);
          produced[client] = topic;
          results.push(r);
          log(`round ${round} produce ${LABEL[client]}: ${fmt(r.records)} in ${r.seconds.toFixed(2)} s → ${fmt(r.records / r.seconds)}/s, CPU ${r.cpuSeconds.toFixed(1)} s, RSS ${mb(r.baseRss)} → peak ${mb(r.peakRss)} MB; per partition ${r.partitionCounts.join('/')}`);
          rows.produce?.push(`| ${LABEL[client]} | ${round} | ${r.seconds.toFixed(2)} | ${fmt(r.records / r.seconds)} | ${r.cpuSeconds.toFixed(1)} | ${fmt((r.cpuSeconds * 1e6) / r.records)} | ${mb(r.peakRss)} (${mb(r.baseRss)}) | ${r.partitionCounts.join(' / ')} |`);
        }
      }
      if (cases.includes('consume')) {
        // Every client reads the same records: the topic kafkajs produced (else the first one produced).
        const source = produced.kafkajs ?? produced[order[0] as Client] ?? '';
        for (const client of order) {
          const r = await runChild(client, 'consume', source, `cc-group-${client}-r${round}-${suffix}`, brokers);
          results.push(r);
          const after = r.records / (r.seconds - (r.firstSeconds ?? 0));
          log(`round ${round} consume ${LABEL[client]}: ${fmt(r.records)} in ${r.seconds.toFixed(2)} s (first record at ${(r.firstSeconds ?? 0).toFixed(2)} s) → ${fmt(r.records / r.seconds)}/s, ${fmt(after)}/s after the first; CPU ${r.cpuSeconds.toFixed(1)} s, RSS ${mb(r.baseRss)} → peak ${mb(r.peakRss)} MB`);
          rows.consume?.push(`| ${LABEL[client]} | ${round} | ${r.seconds.toFixed(2)} | ${(r.firstSeconds ?? 0).toFixed(2)} | ${fmt(r.records / r.seconds)} | ${fmt(after)} | ${r.cpuSeconds.toFixed(1)} | ${fmt((r.cpuSeconds * 1e6) / r.records)} | ${mb(r.peakRss)} (${mb(r.baseRss)}) |`);
        }
      }
      if (cases.includes('latency')) {
        for (const client of order) {
          const topic = await createTopic(`cc-lat-${client}-r${round}-${suffix}`);
          topics.push(topic);
          const r = await runChild(client, 'latency', topic, `cc-lat-group-${client}-r${round}-${suffix}`, brokers);
          results.push(r);
          const l = r.latency as LatencyFigures;
          const ms = (x: number) => x.toFixed(1);
          log(`round ${round} latency ${LABEL[client]}: ${fmt(l.received)}/${fmt(l.sent)} received (${l.repeated} repeated), produced in ${l.produceSeconds.toFixed(1)} s over ${l.sends} sends (slowest ${ms(l.maxSendMs)} ms); ms p50 ${ms(l.p50)} p95 ${ms(l.p95)} p99 ${ms(l.p99)} max ${ms(l.max)}; CPU ${r.cpuSeconds.toFixed(1)} s, peak RSS ${mb(r.peakRss)} MB`);
          rows.latency?.push(`| ${LABEL[client]} | ${round} | ${fmt(l.received)} / ${fmt(l.sent)} | ${ms(l.p50)} | ${ms(l.p95)} | ${ms(l.p99)} | ${ms(l.max)} | ${ms(l.maxSendMs)} | ${r.cpuSeconds.toFixed(1)} | ${mb(r.peakRss)} |`);
        }
      }
      await admin.deleteTopics({ topics }).catch((e: unknown) => log(`  (could not delete topics: ${String(e)})`));
    }
  } finally {
    await admin.disconnect();
    await close();
  }

  const lines = [
    `Clients: ${clients.map((c) => `${LABEL[c]} ${versions[c]}`).join(', ')}; node ${process.version}; broker ${process.env.KAFKA_BROKERS ? process.env.KAFKA_BROKERS : 'of its own (Maven KRaft, test/support/own-broker.ts)'}; ${rounds} round(s), order alternating.`,
    '',
  ];
  if (rows.produce?.length) {
    lines.push(
      `Produce: ${fmt(n)} generated JSON events (~330 bytes, seed 1, keyed by anonymousId/userId) into ${partitions} partitions, acks=all, idempotent (one request in flight), awaited sends of ${batch}; seconds from client creation to the last ack. CPU µs/event = the child's user+system CPU / events. RSS: peak (before the client, with the events in memory).`,
      '',
      '| client | round | seconds | events/s | CPU s | CPU µs/event | peak RSS MB (base) | records per partition |',
      '|---|---:|---:|---:|---:|---:|---:|---|',
      ...rows.produce, '',
    );
  }
  if (rows.consume?.length) {
    lines.push(
      `Consume: a fresh group reads the ${fmt(n)} records kafkajs produced in that round from the beginning (read_committed, fetch wait ${FETCH_WAIT_MS} ms, ${MAX_BYTES_PER_PARTITION >> 20} MiB per partition, no commits); seconds from client creation to the last record (group join included); "after first" excludes the time to the first record.`,
      '',
      '| client | round | seconds | first record s | events/s | events/s after first | CPU s | CPU µs/event | peak RSS MB (base) |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.consume, '',
    );
  }
  if (rows.latency?.length) {
    lines.push(
      `Latency: producer and consumer in one process, ${fmt(rate * seconds)} events at ${rate}/s for ${seconds} s in sends every ~10 ms (acks=all, idempotent); a consumer joined beforehand (fetch wait ${FETCH_WAIT_MS} ms) takes arrival − send() call per record, ms.`,
      '',
      '| client | round | received / sent | p50 ms | p95 ms | p99 ms | max ms | slowest send ms | CPU s | peak RSS MB |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.latency, '',
    );
  }
  console.log(lines.join('\n'));
}

const args = process.argv.slice(2);
if (args[0] === '--child') await child(args[1] as Client, args[2] as string, args[3] as string, args[4] as string, (args[5] as string).split(','));
else await main();
