/**
 * The setup two Kafka (memory broker) tests share: the rees46-dedupe pipeline over generated
 * events split in halves, the second half with re-sends of first-half messages spread through it
 * (so dedupe can only catch them with the first half's keys), and a bounded, not final, run over
 * the first half done. What happens to the tasks' state before the second half is each test's own.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TributaryEvent } from '../../lib/event/event.js';
import type { PipelineDefinition } from '../../lib/pipeline/definition.js';
import { runKafka } from '../../lib/runtime/kafka/runner.js';
import { produceEvents, testEvents } from './kafka-pipeline.js';
import { memoryScenario } from './memory-kafka.js';

/** First half, then the second half with re-sends of first-half messages spread through it. */
export function withResends(events: TributaryEvent[]): { first: TributaryEvent[]; second: TributaryEvent[]; resent: number } {
  const first = events.slice(0, events.length / 2);
  const resends = first.filter((_e, i) => i % 10 === 3);
  const resent = resends.length;
  const second: TributaryEvent[] = [];
  events.slice(events.length / 2).forEach((e, i) => {
    second.push(e);
    if (i % 4 === 0 && resends.length > 0) second.push(resends.shift()!);
  });
  second.push(...resends);
  return { first, second, resent };
}

/**
 * The rees46-dedupe pipeline keyed per user (`[userId, anonymousId]`, 30 days of lateness, so
 * re-sends are never late) over 3 partitions of the memory broker, `first` produced.
 */
export function dedupeScenario(first: TributaryEvent[], second: TributaryEvent[]) {
  return memoryScenario('examples/rees46-dedupe/pipeline.yaml', {
    events: [...first, ...second], produce: first, partitions: 3,
    edit: (def: PipelineDefinition) => {
      def.source = { topic: def.source.topic, format: 'json', key: ['userId', 'anonymousId'], timestamp: 'timestamp', allowedLateness: '30d' } as PipelineDefinition['source'];
    },
  });
}

/**
 * 1000 generated events (`seed`) through rees46-dedupe keyed per user over 3 partitions, the
 * first half run bounded (not final) into `<scenario dir>/state`. `produceSecond` then puts the
 * second half on the source topic.
 */
export async function dedupeFirstHalf(seed: number) {
  const { first, second, resent } = withResends(testEvents(1000, seed));
  const s = await dedupeScenario(first, second);
  const app = s.p.topology.name;
  const stateDir = join(s.dir, 'state');
  const run1 = await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run1'), stateDir, bounded: true, tickMs: 20 });
  assert.equal(run1.interrupted, false, 'the bounded run ended');
  assert.equal(run1.records, first.length);
  const produceSecond = () => produceEvents(s.kafka.adapter('setup'), s.p.source, second, s.p.topology.source.key, s.partitionOf);
  return { s, app, stateDir, second, resent, produceSecond };
}
