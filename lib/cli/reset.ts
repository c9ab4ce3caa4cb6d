/**
 * `tributary reset <pipeline>`: the application reset tool (as Kafka Streams' kafka-streams-
 * application-reset): with the pipeline stopped, its consumer group goes back to the earliest
 * offsets of the source topic (or those of a point in time), its internal topics (repartition,
 * changelogs) are deleted and its local state is removed, so the next run reprocesses from there
 * with empty state. Output topics are left as they are.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { PartitionOffset } from '../runtime/kafka/client.js';
import type { CliIo } from './program.js';
import type { SecurityFlags } from './kafka-connection.js';
import { BAD_ARGUMENTS, connectionOf, pipelineTopics, refuseWhileRunning, runTool, ToolError, toolAdapter, withAdmin, type ToolContext } from './kafka-tools.js';

interface ResetOptions extends SecurityFlags {
  toEarliest?: boolean;
  toDatetime?: number;
  stateDir: string;
  brokers?: string;
  dryRun?: boolean;
}

const datetime = (v: string): number => {
  const t = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new InvalidArgumentError(`--to-datetime must be an ISO date-time such as 2024-05-01T12:00:00Z, got "${v}"`);
  return t;
};

const offsetsText = (offsets: PartitionOffset[]) => offsets.map((o) => `p${o.partition}: ${o.offset === '-1' ? 'none' : o.offset}`).join(', ');

export function registerReset(program: Command, io: CliIo, ctx: ToolContext): void {
  program
    .command('reset')
    .description('reset a stopped pipeline to reprocess its source: its consumer group\'s offsets back to the earliest (or --to-datetime), its internal topics (repartition, changelog) deleted, its local state <state-dir>/<app> removed; output topics stay')
    .argument('<pipeline>', 'pipeline definition (.yaml, .yml or .json)')
    .option('--to-earliest', 'reset to the first offset of every source partition (the default)')
    .option('--to-datetime <ISO>', 'reset to the first offset at or after this time (e.g. 2024-05-01T12:00:00Z)', datetime)
    .option('-s, --state-dir <dir>', 'state directory the pipeline ran with', 'state')
    .option('-b, --brokers <host:port,...>', 'bootstrap brokers (default KAFKA_BROKERS, then kafka.brokers of the definition, then 127.0.0.1:9092)')
    .option('--dry-run', 'print what would be done, change nothing')
    .addHelpText('after', '\nExample:\n  tributary reset examples/cart-abandonment/pipeline.yaml --brokers 127.0.0.1:9092 --state-dir state --dry-run\n')
    .action(async (file: string, opts: ResetOptions) => {
      const topology = ctx.load(file);
      const source = topology.source.topic;
      if (!source) {
        io.stderr(`error: ${file}: source.topic is required for Kafka\n`);
        throw ctx.exit(BAD_ARGUMENTS);
      }
      if (opts.toEarliest && opts.toDatetime !== undefined) {
        io.stderr('error: --to-earliest and --to-datetime do not go together: choose one\n');
        throw ctx.exit(BAD_ARGUMENTS);
      }
      const group = topology.name;
      const conn = connectionOf(io, ctx, opts, topology, file);
      const adapter = toolAdapter(conn);
      await runTool(io, ctx, conn, () => withAdmin(adapter, async (admin) => {
        const [described] = await admin.describeTopics([source]);
        if (!described) throw new ToolError(`source topic ${source} does not exist: nothing to reset`);
        await refuseWhileRunning(admin, group, 'resetting it');
        const committed = await admin.fetchOffsets(group, source);
        const target = opts.toDatetime === undefined
          ? (await admin.endOffsets(source)).map((w) => ({ partition: w.partition, offset: w.low }))
          : await admin.offsetsForTime(source, opts.toDatetime);
        const to = opts.toDatetime === undefined ? 'the earliest offsets' : `the offsets at ${new Date(opts.toDatetime).toISOString()}`;
        io.stdout(`${opts.dryRun ? 'dry run: ' : ''}reset pipeline ${group} (consumer group ${group})\n`);
        io.stdout(`  ${opts.dryRun ? 'would set' : 'set'} the group's offsets of ${source} to ${to}: ${offsetsText(target)} (committed: ${offsetsText(committed)})\n`);
        if (!opts.dryRun) await admin.setOffsets(group, source, target);

        const internal = pipelineTopics(topology, described.partitions.length).filter((t) => t.role === 'repartition' || t.role === 'changelog').map((t) => t.name);
        const present = (await admin.describeTopics(internal)).map((d) => d.name);
        io.stdout(present.length > 0 ? `  ${opts.dryRun ? 'would delete' : 'deleted'} ${present.length} internal topic${present.length > 1 ? 's' : ''}: ${present.join(', ')}\n` : '  no internal topic to delete\n');
        if (!opts.dryRun && present.length > 0) await admin.deleteTopics(present);

        const local = join(opts.stateDir, topology.name);
        if (existsSync(local)) {
          io.stdout(`  ${opts.dryRun ? 'would remove' : 'removed'} the local state ${local}\n`);
          if (!opts.dryRun) rmSync(local, { recursive: true, force: true });
        } else {
          io.stdout(`  no local state at ${local}\n`);
        }
        if (!opts.dryRun) io.stdout(`done: the next run of ${file} reprocesses ${source} from there with empty state\n`);
      }));
    });
}
