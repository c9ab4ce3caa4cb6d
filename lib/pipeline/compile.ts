/**
 * Compiles a validated definition into a topology description: the resolved steps with
 * their keys, stores and streams, and the sub-topologies a Kafka runtime splits at every key
 * change. The embedded runner and the test driver run it as one task; the Kafka runner runs a
 * task per partition per sub-topology.
 */
import type { SourceMapping } from '../event/mapping.js';
import type { OperatorDefinition, OperatorRegistry, OutputDeclaration, Partitioning } from '../operator/contract.js';
import { parseDuration } from '../time/duration.js';
import type { PipelineDefinition, SourceDefinition, StreamTarget } from './definition.js';
import { stepNames } from './load.js';

/** A step ready to instantiate. */
export interface CompiledStep {
  /** Unique step name (`dedupe`, or the `name:` option). */
  name: string;
  /** Index in `steps`. */
  index: number;
  operator: string;
  definition: OperatorDefinition<never, never>;
  /** Resolved options (defaults applied, durations in ms). */
  config: unknown;
  /** Key fields (first non-null), or undefined for a stateless step. */
  key: string[] | undefined;
  /** What its state needs of the partitioning (`key` for keyed steps unless the operator says otherwise). */
  partitioning: Partitioning | undefined;
  outputs: OutputDeclaration[];
  /** Store names qualified by step: `<step>.<store>`. */
  stores: string[];
}

/** A stream of the pipeline and where it goes. */
export interface CompiledStream {
  name: string;
  /** Which step writes it (`source` for dead-letter/late, `<last step>` for events). */
  producer: string;
  kind: string;
  /** Kafka topic: from `sink`/`outputs`, else `<app>-<stream>`. */
  topic: string;
  /** The record fields that make its Kafka key (first non-null), when its operator declares them. */
  key?: string[];
  format: 'json' | 'avro';
}

/**
 * Steps between two re-keyings: one Kafka sub-topology. The first reads the source topic (it may
 * hold no step when the first keyed step needs another key); each later one reads the
 * repartition topic its first step is keyed by.
 */
export interface SubTopology {
  id: number;
  key: string[] | undefined;
  steps: string[];
  /** `source` for the first; else `<app>-<step>-repartition`. */
  input: string;
  /**
   * Its task count: `source` (one per source partition), or `1` for a sub-topology that starts
   * with a `global` step (joinIdentity: one identity graph, so one task sees every event).
   */
  partitions: 'source' | 1;
  /** The sub-topologies whose events (and watermarks) it reads; empty for the first. */
  upstream: number[];
  /** The sub-topology its events go to (undefined: the sink). */
  next: number | undefined;
  /**
   * `global-table` steps that run here as lookups only (joinIdentity `mode: global-table`): they
   * read the step's global table; its stores belong to the step's resolver sub-topology.
   */
  lookups?: string[];
  /** The resolver of a `global-table` step (one task): it changes the step's state and forwards the events it resolved. */
  resolver?: string;
}

export interface ResolvedSource {
  topic: string | undefined;
  format: 'json' | 'csv' | 'avro';
  key: string[] | undefined;
  allowedLatenessMs: number;
  idleTimeoutMs: number;
  /** An event more than this far ahead of processing time is a dead letter (`future-timestamp`); `Infinity`: no bound. */
  maxFutureSkewMs: number;
  /** An event more than this far ahead of its partition's recent records is a dead letter (`time-jump`); `Infinity`: no bound. */
  maxTimeJumpMs: number;
  /** An event more than this after processing time and ahead of its partition's recent records is a dead letter (`time-jump`); `Infinity`: no bound. */
  maxFutureJumpMs: number;
  maxRecordBytes: number;
  /** CSV input: lines a record may span (1: a quoted cell cannot hold a line break). */
  maxRecordLines: number;
  mapping: SourceMapping;
}

/** The compiled pipeline. */
export interface Topology {
  name: string;
  source: ResolvedSource;
  steps: CompiledStep[];
  streams: CompiledStream[];
  subTopologies: SubTopology[];
  guarantee: 'at-least-once' | 'exactly-once';
  /** A record a step throws on: dead-lettered, or the run stops. */
  onProcessingError: 'dead-letter' | 'fail';
  definition: PipelineDefinition;
}

/** Default `source.maxFutureSkew`: a day, beyond any clock drift or time zone mistake. */
export const DEFAULT_MAX_FUTURE_SKEW = '1d';
/** Default `source.maxTimeJump`: 30 days, past any gap of a live stream but not a replay's year. */
export const DEFAULT_MAX_TIME_JUMP = '30d';
/** Default `source.maxFutureJump`: an hour, past clock drift; less than a day of a live stream sent to `late`. */
export const DEFAULT_MAX_FUTURE_JUMP = '1h';

function resolveSource(s: SourceDefinition): ResolvedSource {
  const mapping: SourceMapping = structuredClone(s.mapping ?? {});
  if (s.timestamp && s.timestamp !== 'timestamp') mapping.fields = { ...mapping.fields, timestamp: s.timestamp };
  return {
    topic: s.topic,
    format: s.format ?? 'json',
    key: s.key === undefined ? undefined : Array.isArray(s.key) ? s.key : [s.key],
    allowedLatenessMs: parseDuration(s.allowedLateness ?? 0),
    idleTimeoutMs: parseDuration(s.idleTimeout ?? '30s'),
    maxFutureSkewMs: parseDuration(s.maxFutureSkew ?? DEFAULT_MAX_FUTURE_SKEW),
    maxTimeJumpMs: parseDuration(s.maxTimeJump ?? DEFAULT_MAX_TIME_JUMP),
    maxFutureJumpMs: parseDuration(s.maxFutureJump ?? DEFAULT_MAX_FUTURE_JUMP),
    maxRecordBytes: s.maxRecordBytes ?? 1024 * 1024,
    maxRecordLines: s.maxRecordLines ?? 1,
    mapping,
  };
}

const sameKey = (a: string[] | undefined, b: string[] | undefined) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Compiles a definition (validate it first with `parsePipeline`/`validatePipeline`).
 *
 * @example
 * ```ts
 * const topology = compilePipeline(loadPipelineFile('pipeline.yaml', registry), registry);
 * topology.streams.map((s) => s.name); // ['events', 'dead-letter', 'late', 'forgotten', 'duplicates']
 * ```
 */
export function compilePipeline(def: PipelineDefinition, registry: OperatorRegistry): Topology {
  const names = stepNames(def);
  const steps: CompiledStep[] = def.steps.map((step, index) => {
    const operator = Object.keys(step)[0] as string;
    const definition = registry.get(operator);
    if (!definition) throw new Error(`unknown operator ${operator} (validate the definition first)`);
    const config = definition.resolve((step[operator] ?? {}) as never);
    const name = names[index] as string;
    return {
      name,
      index,
      operator,
      definition,
      config,
      key: definition.keyPaths(config as never),
      partitioning: definition.keyPaths(config as never) === undefined ? undefined : (definition.partitioning?.(config as never) ?? 'key'),
      outputs: definition.outputs(config as never),
      stores: definition.stores(config as never).map((s) => `${name}.${s}`),
    };
  });

  const target = (stream: string): StreamTarget =>
    (stream === 'events' ? def.sink : def.outputs?.[stream]) ?? {};
  const stream = (name: string, producer: string, kind: string, key?: string[]): CompiledStream => ({
    name,
    producer,
    kind,
    topic: target(name).topic ?? `${def.name}-${name}`,
    format: target(name).format ?? 'json',
    ...(key ? { key } : {}),
  });
  const streams: CompiledStream[] = [
    stream('events', steps.at(-1)?.name ?? 'source', 'events'),
    stream('dead-letter', 'source', 'dead-letter'),
    stream('late', 'source', 'late'),
    stream('forgotten', 'source', 'forgotten'),
    ...steps.flatMap((s) => s.outputs.map((o) => stream(o.stream, s.name, o.kind, o.key))),
  ];

  const source = resolveSource(def.source);
  // The source topic is partitioned by source.key (unknown when none is declared). A step that
  // needs its own key (`partitioning: key`) and finds the stream keyed otherwise starts a new
  // sub-topology behind a repartition topic; stateless and `any` steps never do.
  // A `global` step (joinIdentity) runs where it sees every event: behind a single-partition
  // repartition topic, in one task (unless the pipeline already runs in one).
  // A `global-table` step (joinIdentity mode: global-table) runs as a lookup where it is, and
  // as a resolver in a one-task sub-topology fed the events the lookup cannot resolve alone; the
  // events of both go on into a new sub-topology (or to the sink).
  const subTopologies: SubTopology[] = [{ id: 0, key: source.key, steps: [], input: 'source', partitions: 'source', upstream: [], next: undefined }];
  let current = subTopologies[0] as SubTopology;
  /** The sub-topologies whose events the next new sub-topology reads. */
  let tail: number[] = [0];
  let boundary = false;
  const open = (s: CompiledStep, key: string[] | undefined, partitions: 'source' | 1) => {
    const sub: SubTopology = { id: subTopologies.length, key, steps: [s.name], input: `${def.name}-${s.name}-repartition`, partitions, upstream: tail, next: undefined };
    for (const id of tail) (subTopologies[id] as SubTopology).next = sub.id;
    subTopologies.push(sub);
    current = sub;
    tail = [sub.id];
    boundary = false;
  };
  for (const s of steps) {
    if (boundary) open(s, s.partitioning === 'key' ? s.key : undefined, s.partitioning === 'global' ? 1 : 'source');
    else if (s.partitioning === 'global' && current.partitions !== 1) open(s, undefined, 1);
    else if (s.partitioning === 'key' && !sameKey(s.key, current.key)) open(s, s.key, 'source');
    else current.steps.push(s.name);
    if (s.partitioning === 'global-table') {
      (current.lookups ??= []).push(s.name);
      const resolver: SubTopology = {
        id: subTopologies.length, key: undefined, steps: [s.name], input: `${def.name}-${s.name}-resolver`, partitions: 1,
        upstream: [current.id], next: undefined, resolver: s.name,
      };
      subTopologies.push(resolver);
      tail = [current.id, resolver.id];
      boundary = true;
    }
  }
  return { name: def.name, source, steps, streams, subTopologies, guarantee: def.guarantee ?? 'at-least-once', onProcessingError: def.onProcessingError ?? 'dead-letter', definition: def };
}

/**
 * A text description of the topology (for `tributary describe` and `validate`).
 */
export function describeTopology(t: Topology): string {
  const lines = [`pipeline ${t.name} (${t.guarantee})`, `  source: ${t.source.topic ?? '(embedded input)'} format=${t.source.format} key=${t.source.key?.join('|') ?? '(none)'} allowedLateness=${t.source.allowedLatenessMs}ms`];
  for (const sub of t.subTopologies) {
    const role = sub.resolver ? `, resolver of ${sub.resolver}` : '';
    lines.push(`  sub-topology ${sub.id} (input ${sub.input}, key ${sub.key?.join('|') ?? '(none)'}${sub.partitions === 1 ? ', one task' : ''}${role})`);
    for (const name of sub.steps) {
      const s = t.steps.find((x) => x.name === name) as CompiledStep;
      const lookup = sub.lookups?.includes(name) ? ' (lookup in the global table)' : '';
      const stores = lookup ? '' : s.stores.length ? ` stores=${s.stores.join(',')}` : '';
      lines.push(`    ${s.name}: ${s.operator}${lookup}${s.key ? ` key=${s.key.join('|')}` : ''}${stores}${s.outputs.length ? ` → ${s.outputs.map((o) => o.stream).join(', ')}` : ''}`);
    }
  }
  lines.push(`  streams: ${t.streams.map((s) => `${s.name}→${s.topic}`).join(', ')}`);
  return lines.join('\n');
}

/**
 * The topology as a Mermaid flowchart (for `tributary describe --mermaid`, READMEs and reviews).
 *
 * @example
 * ```ts
 * console.log(topologyMermaid(topology)); // flowchart LR ...
 * ```
 */
export function topologyMermaid(t: Topology): string {
  const id = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_');
  const lines = ['flowchart LR', `  source[("${t.source.topic ?? 'input'}")]`];
  /** Node id of the last step of each sub-topology (or of its input). */
  const lastOf = new Map<number, string>();
  for (const sub of t.subTopologies) {
    let previous = 'source';
    if (sub.input !== 'source') {
      const topic = id(sub.input);
      lines.push(`  ${topic}[("${sub.input}")]`);
      for (const u of sub.upstream) lines.push(`  ${lastOf.get(u) ?? 'source'} --> ${topic}`);
      previous = topic;
    }
    lines.push(`  subgraph sub${sub.id}["sub-topology ${sub.id} · key ${sub.key?.join('|') ?? '-'}${sub.resolver ? ' · resolver' : ''}"]`);
    const node = (name: string) => id(sub.resolver ? `${name}_resolver` : name);
    for (const name of sub.steps) {
      const s = t.steps.find((x) => x.name === name) as CompiledStep;
      const lookup = sub.lookups?.includes(name);
      lines.push(`    ${node(name)}["${s.name}: ${s.operator}${sub.resolver ? ' (resolver)' : lookup ? ' (lookup)' : ''}${s.stores.length && !lookup ? `<br/>stores ${s.stores.join(', ')}` : ''}"]`);
    }
    lines.push('  end');
    for (const name of sub.steps) {
      lines.push(`  ${previous} --> ${node(name)}`);
      previous = node(name);
    }
    lastOf.set(sub.id, previous);
  }
  for (const s of t.streams) {
    const from = s.producer === 'source' ? 'source' : id(s.producer);
    lines.push(`  ${id(`out_${s.name}`)}[/"${s.name} → ${s.topic}"/]`, `  ${from} -.-> ${id(`out_${s.name}`)}`);
  }
  return lines.join('\n');
}
