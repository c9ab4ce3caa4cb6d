/**
 * The Kafka side of `tributary bench --brokers`: one source topic per invocation, filled once
 * with the generated events (keyed by the pipeline's source key and placed by Kafka's murmur2
 * partitioner, as `tributary produce` does); per run a definition of its own over that topic
 * (its own application id, so its own consumer group, output and internal topics: every run
 * starts from offset 0 with empty state); and at the end the removal of every topic the
 * invocation made (their names carry its id).
 */
import { randomBytes } from 'node:crypto';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { TributaryEvent } from '../event/event.js';
import { resolveKey } from '../event/key.js';
import type { KafkaAdapter, KafkaProducer, ProducerRecord } from '../runtime/kafka/adapter.js';
import type { KafkaSecurity } from '../runtime/kafka/connection.js';
import { partitionForKey } from '../runtime/kafka/partitioner.js';

/** The environment variable that hands a run's TLS/SASL settings (JSON) to its process: never in its arguments. */
export const BENCH_SECURITY_ENV = 'TRIBUTARY_BENCH_KAFKA_SECURITY';

/** The TLS/SASL settings handed to this process by `tributary bench`, if any. */
export function benchSecurity(): KafkaSecurity | undefined {
  const text = process.env[BENCH_SECURITY_ENV];
  return text ? (JSON.parse(text) as KafkaSecurity) : undefined;
}

/** An id for one invocation's topics and groups: `bench-<pid>-<random>`. */
export const benchRunId = () => `bench-${process.pid}-${randomBytes(3).toString('hex')}`;

/**
 * The definition of one Kafka run: named `<name>-<runId>` (application id, consumer group,
 * internal topics), reading `sourceTopic`, writing its sink and output topics with `-<runId>`
 * appended. Pure; the text is YAML or JSON, the result YAML.
 */
export function kafkaRunDefinition(text: string, sourceTopic: string, runId: string): string {
  const def = parseYaml(text) as Record<string, unknown> & {
    name: string;
    source: Record<string, unknown>;
    sink?: { topic?: string };
    outputs?: Record<string, { topic?: string } | undefined>;
  };
  const outputs = Object.fromEntries(Object.entries(def.outputs ?? {}).map(([stream, target]) => [stream, target?.topic ? { ...target, topic: `${target.topic}-${runId}` } : target]));
  return stringifyYaml({
    ...def,
    name: `${def.name}-${runId}`,
    source: { ...def.source, topic: sourceTopic },
    ...(def.sink ? { sink: { ...def.sink, ...(def.sink.topic ? { topic: `${def.sink.topic}-${runId}` } : {}) } } : {}),
    ...(def.outputs ? { outputs } : {}),
  });
}

/** Writes the events to `topic` in sends of 2,000, each key in its murmur2 partition (unkeyed: round-robin). */
export async function fillSourceTopic(adapter: KafkaAdapter, topic: string, partitions: number, events: Iterable<TributaryEvent>, keyFields: readonly string[]): Promise<number> {
  const producer: KafkaProducer = await adapter.producer({ idempotent: true });
  let sent = 0;
  let roundRobin = 0;
  try {
    let pending: ProducerRecord[] = [];
    for (const e of events) {
      const k = resolveKey(e, [...keyFields]);
      const key = k === undefined ? null : Buffer.from(k, 'utf8');
      const partition = key === null ? roundRobin++ % partitions : partitionForKey(key, partitions);
      pending.push({ topic, key, value: Buffer.from(JSON.stringify(e), 'utf8'), partition });
      if (pending.length === 2000) {
        await producer.send(pending);
        sent += pending.length;
        pending = [];
      }
    }
    if (pending.length > 0) await producer.send(pending);
    sent += pending.length;
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
  return sent;
}

/** Deletes every topic whose name contains `runId`; returns their names. */
export async function deleteRunTopics(adapter: KafkaAdapter, runId: string): Promise<string[]> {
  const admin = await adapter.admin();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.includes(runId));
    if (topics.length > 0) await admin.deleteTopics(topics);
    return topics;
  } finally {
    await admin.disconnect();
  }
}
