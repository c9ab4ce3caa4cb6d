/**
 * What the benchmarks against a real broker share (`kafka.bench.ts`, `streams-compare.bench.ts`):
 * settings from the environment, the broker list, topics, producing generated events, reading a
 * topic back, and number formats.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import type { TributaryEvent } from '../../lib/event/event.js';
import { resolveKey } from '../../lib/event/key.js';

export const env = (name: string, dflt: string) => process.env[name]?.trim() || dflt;
export const num = (name: string, dflt: number) => Number(env(name, String(dflt)));
export const list = (name: string, dflt: string) => env(name, dflt).split(',').map((s) => s.trim()).filter(Boolean);

export function brokers(): string[] {
  const b = (process.env.KAFKA_BROKERS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (b.length === 0) throw new Error('KAFKA_BROKERS is not set: start a broker (npm run -s kafka:start) and export what it prints');
  return b;
}

export function kafka(): Kafka {
  return new Kafka({ clientId: 'tributary-bench', brokers: brokers(), logLevel: logLevel.NOTHING });
}

export const uniqueSuffix = () => `${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

/** Creates a topic; `configs` are topic configs such as `retention.ms`. */
export async function createTopic(name: string, partitions: number, configs: Record<string, string> = {}): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    const configEntries = Object.entries(configs).map(([name, value]) => ({ name, value }));
    await admin.createTopics({ waitForLeaders: false, topics: [{ topic: name, numPartitions: partitions, configEntries }] });
    // kafkajs' waitForLeaders can throw UNKNOWN_TOPIC_OR_PARTITION right after a create: poll instead.
    for (let i = 0; ; i++) {
      try {
        const meta = await admin.fetchTopicMetadata({ topics: [name] });
        if (meta.topics[0]?.partitions.length === partitions && meta.topics[0].partitions.every((x) => x.leader >= 0)) break;
      } catch (e) {
        if (i > 100) throw e;
      }
      await sleep(100);
    }
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopicsLike(fragment: string): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.includes(fragment));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } catch (e) {
    process.stderr.write(`  (could not delete topics of ${fragment}: ${String(e)})\n`);
  } finally {
    await admin.disconnect();
  }
}

/** Produces JSON events keyed by `key` (first non-null field; the default partitioner places them). Returns events/s. */
export async function produceAll(topic: string, events: readonly TributaryEvent[], key: string[]): Promise<number> {
  const producer = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const t0 = performance.now();
  try {
    for (let i = 0; i < events.length; i += 2000) {
      await producer.send({
        topic, acks: -1,
        messages: events.slice(i, i + 2000).map((e) => {
          const k = resolveKey(e, key);
          return { key: k === undefined ? null : k, value: JSON.stringify(e) };
        }),
      });
    }
  } finally {
    await producer.disconnect();
  }
  return (events.length / (performance.now() - t0)) * 1000;
}

/** Records in a topic nobody wrote transactionally: the sum of its partitions' end offsets. */
export async function topicRecords(topic: string): Promise<number> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((a, p) => a + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Reads every record of `topic` (up to its end offsets as they are now) with a throwaway group. */
export async function readTopic(topic: string, each: (m: KafkaMessage) => void): Promise<number> {
  const admin = kafka().admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const total = offsets.reduce((a, p) => a + Number(p.high) - Number(p.low), 0);
  if (total === 0) return 0;
  const consumer = kafka().consumer({ groupId: `bench-read-${uniqueSuffix()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  let seen = 0;
  let last = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = new Promise<void>((ok, fail) => {
      consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) each(m);
          seen += batch.messages.length;
          last = performance.now();
          if (seen >= total) ok();
        },
      }).catch(fail);
    });
    // A topic whose records go (retention, deleteRecords) while it is read would never end.
    const stalled = new Promise<never>((_, fail) => {
      timer = setInterval(() => {
        if (performance.now() - last > 30_000) fail(new Error(`reading ${topic}: ${seen} of ${total} records, nothing for 30 s`));
      }, 1000);
    });
    await Promise.race([done, stalled]);
  } finally {
    clearInterval(timer);
    await consumer.disconnect();
  }
  return seen;
}

export const mb = (b: number) => (b / 2 ** 20).toFixed(0);
export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
export const log = (s: string) => process.stderr.write(`${s}\n`);
