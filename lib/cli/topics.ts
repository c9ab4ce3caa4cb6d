/**
 * `tributary topics <pipeline>`: the pipeline's Kafka topics (as kafka-topics.sh --describe
 * would show them, but knowing which topics a pipeline reads, writes and keeps state in), with
 * `--create` for the missing ones and `--delete-internal` for its state.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError } from 'commander';
import type { KafkaAdmin } from '../runtime/kafka/client.js';
import { ensureTopics, planTopics } from '../runtime/kafka/topics.js';
import type { CliIo } from './program.js';
import type { SecurityFlags } from './kafka-connection.js';
import { BAD_ARGUMENTS, connectionOf, pipelineTopics, refuseWhileRunning, runTool, table, toolAdapter, withAdmin, type ToolContext } from './kafka-tools.js';

/** A whole number ≥ 1 (commander option parser). */
export const positive = (name: string) => (v: string): number => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError(`${name} must be a whole number of at least 1, got "${v}"`);
  return Number(v);
};

interface TopicsOptions extends SecurityFlags {
  brokers?: string;
  create?: boolean;
  partitions: number;
  deleteInternal?: boolean;
}

/** Waits (up to 15 s) until every partition of `topic` has a leader, so a produce right after succeeds. */
export async function waitForLeaders(admin: KafkaAdmin, topic: string): Promise<void> {
  const deadline = performance.now() + 15_000;
  for (;;) {
    const [d] = await admin.describeTopics([topic]).catch(() => []);
    if (d && d.partitions.length > 0 && d.partitions.every((p) => p.leader >= 0)) return;
    if (performance.now() > deadline) throw new Error(`topic ${topic}: no leader for every partition after 15 s`);
    await sleep(200);
  }
}

/** Records in each topic (end − start offsets, summed over partitions), or undefined when it does not exist. */
async function sizes(admin: KafkaAdmin, names: string[]): Promise<Map<string, { partitions: number; records: bigint }>> {
  const described = await admin.describeTopics(names);
  const out = new Map<string, { partitions: number; records: bigint }>();
  for (const d of described) {
    const offsets = await admin.endOffsets(d.name);
    out.set(d.name, { partitions: d.partitions.length, records: offsets.reduce((n, o) => n + BigInt(o.high) - BigInt(o.low), 0n) });
  }
  return out;
}

export function registerTopics(program: Command, io: CliIo, ctx: ToolContext): void {
  program
    .command('topics')
    .description('list a pipeline\'s Kafka topics: source, outputs (sink, outputs, dead-letter, late, forgotten) and internal ones (repartition, changelog), with partitions and records (end − start offsets); missing ones are marked')
    .argument('<pipeline>', 'pipeline definition (.yaml, .yml or .json)')
    .option('-b, --brokers <host:port,...>', `bootstrap brokers (default KAFKA_BROKERS, then kafka.brokers of the definition, then 127.0.0.1:9092)`)
    .option('--create', 'create what is missing: the source topic (--partitions) and the output and internal topics a run would create')
    .option('-p, --partitions <n>', 'partitions of the source topic when --create makes it', positive('--partitions'), 3)
    .option('--delete-internal', 'delete the repartition and changelog topics (the pipeline\'s state; refused while its consumer group has members)')
    .addHelpText('after', '\nExample:\n  tributary topics examples/cart-abandonment/pipeline.yaml --brokers 127.0.0.1:9092 --create --partitions 3\n')
    .action(async (file: string, opts: TopicsOptions) => {
      const topology = ctx.load(file);
      const source = topology.source.topic;
      if (!source) {
        io.stderr(`error: ${file}: source.topic is required for Kafka\n`);
        throw ctx.exit(BAD_ARGUMENTS);
      }
      if (opts.create && opts.deleteInternal) {
        io.stderr('error: --create and --delete-internal do not go together: choose one\n');
        throw ctx.exit(BAD_ARGUMENTS);
      }
      const conn = connectionOf(io, ctx, opts, topology, file);
      const adapter = toolAdapter(conn);
      await runTool(io, ctx, conn, () => withAdmin(adapter, async (admin) => {
        let [described] = await admin.describeTopics([source]);
        const deleted = new Set<string>();
        if (opts.create) {
          if (!described) {
            await admin.createTopics([{ name: source, partitions: opts.partitions }]);
            await waitForLeaders(admin, source);
            io.stdout(`created source topic ${source} (${opts.partitions} partitions)\n`);
            [described] = await admin.describeTopics([source]);
          }
          const { created } = await ensureTopics(adapter, planTopics(topology, described?.partitions.length ?? opts.partitions));
          io.stdout(created.length > 0 ? `created ${created.length} topic${created.length > 1 ? 's' : ''}: ${created.join(', ')}\n` : 'every topic of the pipeline exists\n');
        }
        const partitions = described?.partitions.length ?? opts.partitions;
        const all = pipelineTopics(topology, partitions);
        if (opts.deleteInternal) {
          await refuseWhileRunning(admin, topology.name, 'deleting its internal topics');
          const internal = all.filter((t) => t.role === 'repartition' || t.role === 'changelog').map((t) => t.name);
          const present = (await admin.describeTopics(internal)).map((d) => d.name);
          await admin.deleteTopics(present);
          for (const name of present) deleted.add(name);
          io.stdout(present.length > 0 ? `deleted ${present.length} internal topic${present.length > 1 ? 's' : ''}: ${present.join(', ')}\n` : 'no internal topic to delete\n');
        }
        const found = await sizes(admin, all.map((t) => t.name).filter((n) => !deleted.has(n)));
        const rows = [['TOPIC', 'ROLE', 'FOR', 'PARTITIONS', 'RECORDS']];
        let missing = 0;
        for (const t of all) {
          const f = found.get(t.name);
          if (!f) missing++;
          rows.push(f ? [t.name, t.role, t.of, String(f.partitions), String(f.records)] : [t.name, t.role, t.of, deleted.has(t.name) ? 'deleted' : 'missing', '-']);
        }
        io.stdout(`${table(rows)}\n`);
        const absent = missing - deleted.size;
        if (absent > 0) io.stdout(`${absent} missing (a run creates the output and internal topics; --create makes them now${found.has(source) ? '' : ', and the source topic'})\n`);
      }));
    });
}
