/**
 * Baseline: the dedupe a Node engineer would write by hand against Kafka, with kafkajs and a
 * `Map` per partition, at least once as Tributary's default:
 *
 *   node dist/lib/bench/baselines/dedupe-kafka.js <brokers> <source topic> <run id>
 *
 * Reads `<source topic>` from the beginning (consumer group `<run id>`) up to the end offsets it
 * had at the start, and per partition applies `dedupe-loop.ts`'s rules (watermark = max event
 * time − 1m of the partition; late before it; a duplicate when the messageId was first seen
 * within 24h; entries expire once the watermark passes f + 24h). Per kafkajs batch: the outputs
 * go out in sends of 500 (idempotent producer, acks all) to `<run id>-events`, `-duplicates`,
 * `-late` and `-dead-letter` (created first, with the source's partition count), then the
 * batch's offsets are committed. Prints one JSON line like the file baselines; latency is the
 * time of one record up to its output queued (every 64th record), the sends are not in it.
 */
import { Kafka, logLevel, type Message } from 'kafkajs';
import { kafkajsSecurity } from '../../runtime/kafka/connection.js';
import { benchSecurity } from '../kafka.js';
import { TTL_MS } from './dedupe-loop.js';
import { ExpiryHeap } from './expiry-heap.js';
import { memory, parseLine, passedLine } from './io.js';

const ALLOWED_LATENESS_MS = 60_000;
const [brokerList, source, runId] = process.argv.slice(2);
if (!brokerList || !source || !runId) {
  console.error('usage: node dist/lib/bench/baselines/dedupe-kafka.js <brokers> <source topic> <run id>');
  process.exit(2);
}

/** One partition's dedupe state. */
class PartitionDedupe {
  readonly firstSeen = new Map<string, number>();
  readonly expiry = new ExpiryHeap();
  maxEventTime = -Infinity;
  watermark = -Infinity;

  expire(): void {
    while (this.expiry.size > 0 && this.expiry.peekTime() < this.watermark) {
      const k = this.expiry.pop();
      const f = this.firstSeen.get(k);
      if (f !== undefined && f + TTL_MS < this.watermark) this.firstSeen.delete(k);
    }
  }
}

const cpu0 = process.cpuUsage();
const t0 = performance.now();
const kafka = new Kafka({ clientId: runId, brokers: brokerList.split(','), logLevel: logLevel.NOTHING, ...kafkajsSecurity(benchSecurity()) });
const admin = kafka.admin();
await admin.connect();
const ends = await admin.fetchTopicOffsets(source);
const streams = ['events', 'duplicates', 'late', 'dead-letter'] as const;
await admin.createTopics({ waitForLeaders: true, topics: streams.map((s) => ({ topic: `${runId}-${s}`, numPartitions: ends.length })) });
await admin.disconnect();

const end = new Map(ends.map((p) => [p.partition, Number(p.high)]));
const done = new Map(ends.map((p) => [p.partition, Number(p.low)]));
const counts: Record<(typeof streams)[number], number> = { events: 0, duplicates: 0, late: 0, 'dead-letter': 0 };
const states = new Map<number, PartitionDedupe>();
const samples: number[] = [];
let records = 0;

const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const consumer = kafka.consumer({ groupId: runId, maxWaitTimeInMs: 100 });
await Promise.all([producer.connect(), consumer.connect()]);
await consumer.subscribe({ topic: source, fromBeginning: true });
const finished = () => [...end].every(([p, high]) => (done.get(p) ?? 0) >= high);
let stop: () => void = () => undefined;
let fail: (e: unknown) => void = () => undefined;
const allRead = new Promise<void>((ok, no) => {
  stop = ok;
  fail = no;
});
if (finished()) stop();
// kafkajs restarts the consumer after a retriable error (the batch is read again from the last
// commit: at least once); a crash it does not restart from would otherwise leave this waiting.
consumer.on(consumer.events.CRASH, ({ payload }) => {
  process.stderr.write(`dedupe-kafka: consumer crashed (${payload.error.message})${payload.restart ? ', restarting' : ''}\n`);
  if (!payload.restart) fail(payload.error);
});

await consumer.run({
  autoCommit: false,
  eachBatchAutoResolve: false,
  eachBatch: async ({ batch, heartbeat, resolveOffset }) => {
    const state = states.get(batch.partition) ?? new PartitionDedupe();
    states.set(batch.partition, state);
    const out: Record<(typeof streams)[number], Message[]> = { events: [], duplicates: [], late: [], 'dead-letter': [] };
    const high = end.get(batch.partition) ?? 0;
    let last = -1;
    for (const m of batch.messages) {
      const offset = Number(m.offset);
      if (offset >= high) break; // what arrived after the start is not part of this run
      last = offset;
      records++;
      const sampled = (records & 63) === 0;
      const r0 = sampled ? performance.now() : 0;
      const line = m.value?.toString('utf8') ?? '';
      const p = parseLine(line);
      const where = `${source}/${batch.partition}@${m.offset}`;
      if (!p.ok) {
        out['dead-letter'].push({ key: m.key, value: JSON.stringify({ reason: p.reason, raw: line, source: where }) });
      } else if (p.t < state.watermark) {
        out.late.push({ key: m.key, value: JSON.stringify({ ...p.event, timestamp: p.t, watermark: state.watermark }) });
      } else {
        if (p.t > state.maxEventTime) {
          state.maxEventTime = p.t;
          state.watermark = Math.max(state.watermark, p.t - ALLOWED_LATENESS_MS);
        }
        const key = p.messageId;
        if (key === undefined) {
          out['dead-letter'].push({ key: m.key, value: JSON.stringify({ reason: 'missing-key', raw: line, source: where }) });
        } else {
          const first = state.firstSeen.get(key);
          if (first !== undefined && Math.abs(p.t - first) <= TTL_MS) {
            out.duplicates.push({ key: m.key, value: JSON.stringify({ ...p.event, timestamp: p.t, duplicateKey: key, firstSeenAt: first }) });
          } else {
            state.firstSeen.set(key, p.t);
            state.expiry.push(p.t + TTL_MS, key);
            out.events.push({ key: m.key, value: passedLine(line, p) });
          }
        }
        state.expire();
      }
      if (sampled) samples.push(performance.now() - r0);
    }
    if (last < 0) return;
    // Sends of at most 500 records: a broker refuses a record batch over message.max.bytes (1 MB).
    for (const s of streams) {
      for (let i = 0; i < out[s].length; i += 500) await producer.send({ topic: `${runId}-${s}`, messages: out[s].slice(i, i + 500), acks: -1 });
    }
    for (const s of streams) counts[s] += out[s].length;
    await consumer.commitOffsets([{ topic: source, partition: batch.partition, offset: String(last + 1) }]);
    resolveOffset(String(last)); // kafkajs fetches from what is resolved, not from what is committed
    done.set(batch.partition, last + 1);
    await heartbeat();
    if (finished()) stop();
  },
});
await allRead;
await Promise.all([consumer.disconnect(), producer.disconnect()]);

const s = [...samples].sort((a, b) => a - b);
const at = (q: number) => (s.length === 0 ? 0 : (s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number) / 1000);
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({
  baseline: 'dedupe-kafka',
  events: records,
  seconds: (performance.now() - t0) / 1000,
  cpu: cpu.user + cpu.system,
  counts,
  residentKeys: [...states.values()].reduce((a, st) => a + st.firstSeen.size, 0),
  latency: { p50: at(0.5), p99: at(0.99), method: 'samples' },
  ...memory(),
}));
