/**
 * Conversions between kafkajs's shapes and the adapter's (`adapter.ts`), and the guard every
 * kafkajs connect goes through. Used by the kafkajs adapter (`client.ts`) and its partition
 * reader (`kafkajs-read-partition.ts`).
 */
import type { IHeaders } from 'kafkajs';

import type { TopicPartition, TopicPartitionOffset, ProducerRecord, SentBatch } from './adapter.js';

export function toHeaders(headers: IHeaders | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const last = Array.isArray(value) ? value.at(-1) : value;
    if (last !== undefined) out[name] = Buffer.isBuffer(last) ? last : Buffer.from(last);
  }
  return out;
}

/** Groups records per topic for kafkajs's `sendBatch`. */
export function topicMessages(records: ProducerRecord[]) {
  const byTopic = new Map<string, Array<{ key: Buffer | null; value: Buffer | null; headers?: IHeaders; partition?: number; timestamp?: string }>>();
  for (const r of records) {
    let messages = byTopic.get(r.topic);
    if (!messages) byTopic.set(r.topic, (messages = []));
    messages.push({
      key: r.key,
      value: r.value,
      ...(r.headers ? { headers: r.headers } : {}),
      ...(r.partition === undefined ? {} : { partition: r.partition }),
      ...(r.timestamp === undefined ? {} : { timestamp: String(r.timestamp) }),
    });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

export function sent(metadata: Array<{ topicName: string; partition: number; baseOffset?: string }>): SentBatch[] {
  return metadata.map((m) => {
    if (m.baseOffset === undefined) throw new Error(`no base offset in the produce response for ${m.topicName}/${m.partition}`);
    return { topic: m.topicName, partition: m.partition, baseOffset: m.baseOffset };
  });
}

/** Offsets grouped per topic, the shape kafkajs wants for commits and sendOffsets. */
export function offsetsByTopic(offsets: TopicPartitionOffset[]) {
  const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
  for (const o of offsets) {
    let partitions = byTopic.get(o.topic);
    if (!partitions) byTopic.set(o.topic, (partitions = []));
    partitions.push({ partition: o.partition, offset: o.offset });
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}

export function partitionsByTopic(tps: TopicPartition[]): Array<{ topic: string; partitions: number[] }> {
  const byTopic = new Map<string, number[]>();
  for (const tp of tps) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}

export const key = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;

export function flatten(assignment: Record<string, number[]>): TopicPartition[] {
  return Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
}

/**
 * Runs `connect` (a client's connect, and what completes it); when it fails, the client is
 * disconnected before the error is thrown: a client that failed half way (its seed broker
 * connected, then metadata or InitProducerId refused, as while a broker restarts) would keep its
 * socket open with nothing left to close it, and the process from exiting.
 */
export async function connected(client: { disconnect(): Promise<void> }, connect: () => Promise<void>): Promise<void> {
  try {
    await connect();
  } catch (error) {
    await client.disconnect().catch(() => undefined);
    throw error;
  }
}
