/**
 * The topics a compiled pipeline needs on the broker: repartition topics
 * between sub-topologies, a compacted changelog per state store, and the output topics.
 * `planTopics` is pure; `ensureTopics` makes the broker match a plan (idempotently) or says
 * precisely why it cannot.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SubTopology, Topology } from '../../pipeline/compile.js';
import { changelogTopic, CHANGELOG_TOPIC_CONFIGS } from '../../state/changelog-codec.js';
import type { KafkaAdapter, TopicDescription, TopicSpec } from './client.js';

/** What a topic is for. */
export type TopicRole = 'repartition' | 'changelog' | 'output';

/** One topic the pipeline needs. */
export interface PlannedTopic {
  name: string;
  role: TopicRole;
  /** What it belongs to: the step (repartition), the `<step>.<store>` (changelog), the stream names (output). */
  of: string;
  partitions: number;
  /** Topic configs set on creation. */
  configs: Record<string, string>;
  /**
   * Whether an existing topic must have exactly `partitions` and the same `cleanup.policy`.
   * Internal topics must (a changelog with another partition count restores the wrong keys into
   * a task); output topics belong to their consumers, so any existing one is accepted.
   */
  strict: boolean;
}

/** Everything `ensureTopics` creates or verifies. */
export interface TopicPlan {
  app: string;
  source: { topic: string | undefined; partitions: number };
  topics: PlannedTopic[];
}

const LEGAL = /^[a-zA-Z0-9._-]+$/;

/** Why `name` is not a legal Kafka topic name, or undefined when it is. */
export function topicNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name === '.' || name === '..') return `cannot be "${name}"`;
  if (name.length > 249) return `is ${name.length} characters long (Kafka allows 249)`;
  if (!LEGAL.test(name)) return 'may only contain a-z, A-Z, 0-9, ".", "_" and "-"';
  return undefined;
}

/**
 * The runner's own store of each task of sub-topology `id` (its watermark, and what its upstream
 * tasks last reported), changelogged like the steps' stores so a task that moves keeps its event
 * time. Step names cannot start with `_`, so it never collides with a step's store.
 */
export function taskStoreName(id: number): string {
  return `_task.s${id}`;
}

/**
 * Repartition topics keep their records (`retention.ms=-1`), so none is deleted before it was
 * read; `cleanup.policy=delete` so none is compacted away. The task reading one trims it with
 * `deleteRecords` up to its committed offset every 30 s and when it stops (as Kafka Streams
 * purges them), so they hold only what is not committed yet.
 */
/** The stores a sub-topology's tasks own (lookups read another's), its task store last. */
export function storesOfSub(topology: Topology, sub: SubTopology): string[] {
  return [
    ...sub.steps.filter((name) => !sub.lookups?.includes(name)).flatMap((name) => topology.steps.find((s) => s.name === name)?.stores ?? []),
    taskStoreName(sub.id),
  ];
}

export const REPARTITION_CONFIGS: Readonly<Record<string, string>> = {
  'cleanup.policy': 'delete',
  'retention.ms': '-1',
  'segment.bytes': String(50 * 1024 * 1024),
};

/**
 * The internal and output topics of `topology` whose source topic has `sourcePartitions`
 * partitions. Every sub-topology runs one task per source partition, so repartition and
 * changelog topics get that many partitions too; missing output topics are created with the
 * same count. Throws on an illegal topic name, on two purposes for one topic and on an output
 * that is the source topic.
 *
 * @example
 * ```ts
 * const plan = planTopics(compilePipeline(def, registry), 6);
 * plan.topics.map((t) => t.name); // ['shop-sessionize-repartition', 'shop-sessionize.sessions-changelog', 'shop-events', …]
 * ```
 */
export function planTopics(topology: Topology, sourcePartitions: number): TopicPlan {
  if (!Number.isInteger(sourcePartitions) || sourcePartitions < 1) {
    throw new Error(`planTopics: sourcePartitions must be a positive integer, got ${sourcePartitions}`);
  }
  const app = topology.name;
  const topics: PlannedTopic[] = [];
  const byName = new Map<string, PlannedTopic>();
  const add = (t: PlannedTopic) => {
    const problem = topicNameProblem(t.name);
    if (problem) throw new Error(`topic name ${JSON.stringify(t.name)} (${t.role} of ${t.of}) ${problem}`);
    if (topology.source.topic === t.name) {
      throw new Error(`topic ${t.name} is the source topic and cannot also be the ${t.role} of ${t.of}`);
    }
    const existing = byName.get(t.name);
    if (existing) {
      if (existing.role === 'output' && t.role === 'output') { // several streams into one topic: fine
        existing.of = `${existing.of},${t.of}`;
        return;
      }
      throw new Error(`topic ${t.name} would be both the ${existing.role} of ${existing.of} and the ${t.role} of ${t.of}`);
    }
    byName.set(t.name, t);
    topics.push(t);
  };

  for (const sub of topology.subTopologies) {
    const partitions = sub.partitions === 1 ? 1 : sourcePartitions;
    if (sub.input !== 'source') {
      add({ name: sub.input, role: 'repartition', of: sub.steps[0] ?? `sub-topology ${sub.id}`, partitions, configs: { ...REPARTITION_CONFIGS }, strict: true });
    }
    const stores = storesOfSub(topology, sub);
    for (const store of stores) {
      add({ name: changelogTopic(app, store), role: 'changelog', of: store, partitions, configs: { ...CHANGELOG_TOPIC_CONFIGS }, strict: true });
    }
  }
  for (const stream of topology.streams) {
    add({ name: stream.topic, role: 'output', of: stream.name, partitions: sourcePartitions, configs: {}, strict: false });
  }
  return { app, source: { topic: topology.source.topic, partitions: sourcePartitions }, topics };
}

/** A difference between a planned topic and the existing one, or undefined when it fits. */
export function topicMismatch(planned: PlannedTopic, existing: TopicDescription): string | undefined {
  if (!planned.strict) return undefined;
  const problems: string[] = [];
  if (existing.partitions.length !== planned.partitions) {
    problems.push(`has ${existing.partitions.length} partitions, needs ${planned.partitions}`);
  }
  const want = planned.configs['cleanup.policy'];
  const have = existing.configs['cleanup.policy'] ?? 'delete';
  const policies = (p: string) => p.split(',').map((s) => s.trim()).filter(Boolean).sort().join(',');
  if (want !== undefined && policies(want) !== policies(have)) {
    problems.push(`has cleanup.policy=${have}, needs ${want}`);
  }
  if (problems.length === 0) return undefined;
  return `existing ${planned.role} topic ${planned.name} (for ${planned.of}) ${problems.join(' and ')}`;
}

/** Options of {@link ensureTopics}. */
export interface EnsureTopicsOptions {
  /** How long to wait for every partition of every planned topic to have a leader; default 30 s. */
  leaderTimeoutMs?: number;
  /** Replication factor of created topics; default: the broker's. */
  replicationFactor?: number;
}

/** What {@link ensureTopics} did. */
export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
}

/**
 * Creates the planned topics that are missing, verifies the existing ones (partition count and
 * cleanup policy of internal topics) and waits until every partition has a leader. Idempotent;
 * safe when another instance creates the same topics at the same time. Throws one error listing
 * every mismatch, without creating anything, when an existing topic does not fit (delete the
 * topic, which resets that state, or change the pipeline).
 *
 * @example
 * ```ts
 * const { created } = await ensureTopics(adapter, planTopics(topology, 6));
 * ```
 */
export async function ensureTopics(adapter: KafkaAdapter, plan: TopicPlan, options: EnsureTopicsOptions = {}): Promise<EnsureTopicsResult> {
  const { leaderTimeoutMs = 30_000 } = options;
  const toSpec = (t: PlannedTopic): TopicSpec => ({
    name: t.name,
    partitions: t.partitions,
    configs: t.configs,
    ...(options.replicationFactor === undefined ? {} : { replicationFactor: options.replicationFactor }),
  });
  const admin = await adapter.admin();
  try {
    const names = plan.topics.map((t) => t.name);
    const verify = (described: TopicDescription[]) => {
      const problems = plan.topics.flatMap((planned) => { // in plan order, whatever order the broker answers in
        const d = described.find((x) => x.name === planned.name);
        const problem = d && topicMismatch(planned, d);
        return problem ? [problem] : [];
      });
      if (problems.length > 0) {
        throw new Error(`pipeline ${plan.app}: ${problems.join('; ')}. Delete the topic or change the pipeline.`);
      }
    };
    const before = await admin.describeTopics(names);
    verify(before);
    const existing = new Set(before.map((d) => d.name));
    const missing = plan.topics.filter((t) => !existing.has(t.name));
    const created = missing.length === 0 ? [] : await admin.createTopics(missing.map(toSpec));

    // Leaders, and a second verification: a topic another instance created meanwhile may differ.
    const deadline = performance.now() + leaderTimeoutMs;
    for (;;) {
      let described: TopicDescription[] = [];
      let error: unknown;
      try {
        described = await admin.describeTopics(names);
      } catch (e) {
        error = e; // KRaft: metadata of a just-created topic can lag for a moment
      }
      // A topic still being deleted refuses creation (TOPIC_ALREADY_EXISTS) and then vanishes:
      // create whatever is missing again.
      const gone = error ? [] : plan.topics.filter((t) => !described.some((d) => d.name === t.name));
      if (gone.length > 0) {
        try {
          created.push(...(await admin.createTopics(gone.map(toSpec))).filter((n) => !created.includes(n)));
        } catch (e) {
          error = e;
        }
      }
      const ready = !error && described.length === names.length
        && described.every((d) => d.partitions.length > 0 && d.partitions.every((p) => p.leader >= 0));
      if (ready) {
        verify(described);
        return { created, existing: names.filter((n) => !created.includes(n)) };
      }
      if (performance.now() > deadline) {
        const waiting = names.filter((n) => !described.some((d) => d.name === n && d.partitions.every((p) => p.leader >= 0)));
        throw new Error(`pipeline ${plan.app}: no leader for every partition of ${waiting.join(', ')} after ${leaderTimeoutMs} ms`
          + (error instanceof Error ? ` (${error.message})` : ''));
      }
      await sleep(200);
    }
  } finally {
    await admin.disconnect();
  }
}
