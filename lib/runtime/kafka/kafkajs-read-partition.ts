import { randomBytes } from 'node:crypto';
import type kafkajs from 'kafkajs';

import type { ConsumedRecord, ReadPartitionOptions } from './adapter.js';
import { connected, flatten, partitionsByTopic, toHeaders } from './kafkajs-shapes.js';

/**
 * {@link KafkaAdapter.readPartition} on kafkajs, which has no `assign`: a consumer in a group of
 * its own (never committing) subscribes to the topic, pauses every other partition on each join
 * and seeks the wanted one. The end is detected from kafkajs's END_BATCH_PROCESS events, whose
 * `lastOffset` also covers batches of transaction markers only (they never reach `eachBatch`).
 * One fetched batch is held at a time: the consumer waits until the reader has taken it.
 */
export async function* readPartition(kafka: InstanceType<typeof kafkajs.Kafka>, clientId: string, topic: string, partition: number, opts: ReadPartitionOptions): AsyncGenerator<ConsumedRecord> {
  const follow = opts.follow;
  const upTo = follow ? 1n << 62n : BigInt(opts.upTo);
  if (follow?.aborted || upTo < 0n || (opts.from !== 'earliest' && BigInt(opts.from) > upTo)) return;
  const consumer = kafka.consumer({
    groupId: `${clientId}-read-${topic}-${partition}-${process.pid}-${randomBytes(6).toString('hex')}`,
    allowAutoTopicCreation: false,
    readUncommitted: !(opts.readCommitted ?? true),
    maxWaitTimeInMs: 100,
    // Changelog records are ~30 bytes: 16 MiB per fetch became 500k objects at once (1 GB RSS
    // restoring 1M keys). 2 MiB keeps a fetch at tens of thousands.
    maxBytes: 8 << 20,
    maxBytesPerPartition: 2 << 20,
  });
  type Item = { records: ConsumedRecord[] } | { end: bigint };
  const queue: Item[] = [];
  let wake: (() => void) | undefined;
  let release: (() => void) | undefined;
  let failed: unknown;
  let done = false;
  const push = (item: Item) => {
    queue.push(item);
    wake?.();
  };
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    const others = flatten(event.payload.memberAssignment).filter((tp) => tp.topic !== topic || tp.partition !== partition);
    if (others.length > 0) consumer.pause(partitionsByTopic(others));
    // A new group starts at the earliest offset (fromBeginning); elsewhere, seek.
    if (opts.from !== 'earliest' && flatten(event.payload.memberAssignment).some((tp) => tp.topic === topic && tp.partition === partition)) {
      consumer.seek({ topic, partition, offset: opts.from });
    }
  });
  consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
    const p = event.payload as { topic: string; partition: number; lastOffset?: string };
    if (p.topic === topic && p.partition === partition && p.lastOffset !== undefined) push({ end: BigInt(p.lastOffset) });
  });
  consumer.on(consumer.events.CRASH, (event) => {
    if (!event.payload.restart) {
      failed = event.payload.error;
      wake?.();
    }
  });
  const onAbort = () => wake?.();
  follow?.addEventListener('abort', onAbort);
  await connected(consumer, () => consumer.connect()).catch((error: unknown) => {
    follow?.removeEventListener('abort', onAbort);
    throw error;
  });
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (done || batch.topic !== topic || batch.partition !== partition || batch.messages.length === 0) return;
        push({
          records: batch.messages.map((m) => ({
            topic, partition, offset: m.offset, key: m.key ?? null, value: m.value ?? null, headers: toHeaders(m.headers), timestamp: Number(m.timestamp),
          })),
        });
        await new Promise<void>((resolve) => (release = resolve));
      },
    }).catch((error: unknown) => {
      failed = error ?? new Error('consumer failed');
      wake?.();
    });
    for (;;) {
      while (queue.length === 0) {
        if (follow?.aborted) return;
        if (failed !== undefined) throw failed instanceof Error ? failed : new Error(String(failed));
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      const item = queue.shift() as Item;
      if ('end' in item) {
        if (item.end >= upTo) return;
        continue;
      }
      for (const r of item.records) {
        if (BigInt(r.offset) > upTo) return;
        yield r;
        if (BigInt(r.offset) === upTo) return;
      }
      const r = release;
      release = undefined;
      r?.();
    }
  } finally {
    follow?.removeEventListener('abort', onAbort);
    done = true;
    release?.();
    await consumer.disconnect();
  }
}
