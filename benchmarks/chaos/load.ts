/**
 * Continuous produce load: generated events (no late arrivals, disorder within 20 s, below the
 * examples' 1m lateness) keyed as `tributary produce --pipeline` keys them (first non-null
 * source key field, Kafka's murmur2 partitioner), sent at a steady rate until stopped. Every
 * event acknowledged by the broker is appended, in send order, to an NDJSON file: the input of
 * the embedded run the Kafka outputs are compared with.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import type { TributaryEvent } from '../../lib/event/event.js';
import { resolveKey } from '../../lib/event/key.js';
import { generateEvents } from '../../lib/generate/index.js';
import { partitionForKey } from '../../lib/runtime/kafka/partitioner.js';
import { personPartitioner } from '../../test/support/kafka-pipeline.js';

export interface LoadOptions {
  brokers: string[];
  topic: string;
  partitions: number;
  key: string[];
  /** Events per second. */
  rate: number;
  seed: number;
  /** Stop producing after this many events (the generator's stream length). */
  maxEvents: number;
  /** NDJSON file receiving every acknowledged event, in send order. */
  record: string;
  log?: (line: string) => void;
  /**
   * `source-key` (default): the partition of the key, as `tributary produce --pipeline` places
   * it. `person`: all events of a person (identifiers linked by any event) in one partition, as
   * a producer keyed by customer places them; needs the whole stream up front (held in memory).
   */
  keying?: Keying;
}

export type Keying = 'source-key' | 'person';

export interface LoadReport {
  produced: number;
  seconds: number;
  /** Sends that failed and were sent again (each may have written its records twice). */
  resent: number;
  firstError?: string;
}

export interface Load {
  produced(): number;
  /** Resolves once `maxEvents` were produced. */
  exhausted: Promise<void>;
  stop(): Promise<LoadReport>;
}

/** Decides how many events are due at `elapsedMs` after `sent` were sent, at most `cap` at once. */
export function dueNow(rate: number, elapsedMs: number, sent: number, cap: number): number {
  return Math.max(0, Math.min(cap, Math.floor((rate * elapsedMs) / 1000) - sent));
}

export function startLoad(o: LoadOptions): Load {
  const client = new Kafka({ clientId: 'tributary-chaos-load', brokers: o.brokers, logLevel: logLevel.NOTHING, retry: { retries: 8 } });
  const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 });
  const generate = () => generateEvents({ events: o.maxEvents, seed: o.seed, lateRate: 0, maxDisorderMs: 20_000 });
  let events: Iterator<TributaryEvent> = generate();
  let partitionOf: ((e: TributaryEvent, key: Buffer | null) => number) = (_e, key) => (key === null ? 0 : partitionForKey(key, o.partitions));
  if (o.keying === 'person') {
    const all = [...generate()] as TributaryEvent[];
    const person = personPartitioner(all, o.partitions);
    partitionOf = (e) => person(e);
    events = all[Symbol.iterator]();
  }
  const fd = openSync(o.record, 'w');
  let produced = 0;
  let resent = 0;
  let firstError: string | undefined;
  let stopping = false;
  let done = false;
  const t0 = performance.now();
  let markExhausted!: () => void;
  const exhausted = new Promise<void>((ok) => (markExhausted = ok));
  const loop = (async () => {
    await producer.connect();
    const cap = Math.max(100, Math.ceil(o.rate / 5));
    while (!stopping && !done) {
      const n = dueNow(o.rate, performance.now() - t0, produced, cap);
      if (n === 0) {
        await sleep(50);
        continue;
      }
      const batch: TributaryEvent[] = [];
      for (let i = 0; i < n; i++) {
        const next = events.next();
        if (next.done) {
          done = true;
          break;
        }
        batch.push(next.value);
      }
      if (batch.length === 0) break;
      const messages = batch.map((e) => {
        const k = resolveKey(e, o.key);
        const key = k === undefined ? null : Buffer.from(k, 'utf8');
        return { key, value: JSON.stringify(e), partition: partitionOf(e, key) };
      });
      for (;;) {
        try {
          await producer.send({ topic: o.topic, acks: -1, messages });
          break;
        } catch (error) {
          resent++;
          firstError ??= String(error);
          o.log?.(`load: send failed (${String(error).slice(0, 120)}); sending again`);
          await sleep(500);
        }
      }
      writeSync(fd, batch.map((e) => JSON.stringify(e)).join('\n') + '\n');
      produced += batch.length;
    }
    markExhausted();
  })();
  return {
    produced: () => produced,
    exhausted,
    async stop() {
      stopping = true;
      await loop;
      await producer.disconnect().catch(() => undefined);
      closeSync(fd);
      return { produced, seconds: (performance.now() - t0) / 1000, resent, ...(firstError ? { firstError } : {}) };
    },
  };
}
