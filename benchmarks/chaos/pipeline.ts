/**
 * A chaos run's own copy of an example pipeline (unique name = application id, unique topics),
 * its topics on the broker, and their removal at the end.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { PipelineDefinition } from '../../lib/pipeline/definition.js';
import { compilePipeline, type Topology } from '../../lib/pipeline/compile.js';
import { loadPipelineFile } from '../../lib/pipeline/load.js';
import { createKafkaJsAdapter, type KafkaAdapter } from '../../lib/runtime/kafka/client.js';
import { defaultRegistry } from '../../operators/index.js';
import { withSuffix } from '../../test/support/kafka-pipeline.js';
import { ROOT } from './runner.js';

export interface ChaosPipeline {
  file: string;
  topology: Topology;
  source: string;
  /** Every topic name of this copy contains it (the runner's internal topics too: they carry the name). */
  suffix: string;
}

export const chaosSuffix = () => `chaos-${process.pid}-${randomBytes(3).toString('hex')}`;

/** Copies `examples/<path>` into `dir` renamed with `suffix`; `edit` may change more. */
export function pipelineCopy(path: string, dir: string, suffix: string, edit?: (def: PipelineDefinition) => void): ChaosPipeline {
  const def = parse(readFileSync(join(ROOT, path), 'utf8')) as PipelineDefinition;
  withSuffix(def, suffix);
  edit?.(def);
  const file = join(dir, `${def.name}.yaml`);
  writeFileSync(file, stringify(def));
  const topology = compilePipeline(loadPipelineFile(file, defaultRegistry), defaultRegistry);
  return { file, topology, source: def.source.topic as string, suffix };
}

export function adapterFor(brokers: string[]): KafkaAdapter {
  return createKafkaJsAdapter({ brokers, clientId: 'tributary-chaos', logLevel: 'nothing' });
}

export async function createSourceTopic(adapter: KafkaAdapter, topic: string, partitions: number): Promise<void> {
  const admin = await adapter.admin();
  try {
    await admin.createTopics([{ name: topic, partitions, replicationFactor: 1 }]);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes every topic whose name contains `fragment` (never throws: cleanup). */
export async function deleteTopicsLike(adapter: KafkaAdapter, fragment: string): Promise<string[]> {
  try {
    const admin = await adapter.admin();
    try {
      const topics = (await admin.listTopics()).filter((t) => t.includes(fragment));
      if (topics.length > 0) await admin.deleteTopics(topics);
      return topics;
    } finally {
      await admin.disconnect();
    }
  } catch {
    return [];
  }
}

/** Records of `topic` the group `group` has not committed yet (end offsets minus commits, summed). */
export async function lag(adapter: KafkaAdapter, group: string, topic: string): Promise<number> {
  const admin = await adapter.admin();
  try {
    const ends = await admin.endOffsets(topic);
    const committed = await admin.fetchOffsets(group, topic);
    return ends.reduce((a, w) => {
      const c = committed.find((o) => o.partition === w.partition);
      const at = c === undefined || c.offset === '-1' ? BigInt(w.low) : BigInt(c.offset);
      return a + Number(BigInt(w.high) - at);
    }, 0);
  } finally {
    await admin.disconnect();
  }
}
