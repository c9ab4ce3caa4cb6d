/**
 * `tributary forget <pipeline>`: erase a person from a pipeline's state.
 *
 * - Embedded (`--state-dir`): applied to a stopped pipeline's state directory at once (see
 *   `runtime/forget-offline.ts`); the audit record is appended to `<out-dir>/forgotten.ndjson`.
 * - Kafka (`--brokers`): the request is produced to every partition of the source topic (a
 *   person's identifiers may be keyed to several), and the running (or next) pipeline applies it
 *   in every task; each task writes its audit record to the `forgotten` topic.
 */
import { randomUUID } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import type { SubjectIdentifier } from '../operator/forget.js';
import { forgetEvent, forgetInStateDir, type ForgetArgs } from '../runtime/forget-offline.js';
import { encodeAvroEvent } from '../serde/avro.js';
import { systemClock } from '../time/clock.js';
import type { CliIo } from './program.js';
import type { SecurityFlags } from './kafka-connection.js';
import { BAD_ARGUMENTS, connectionOf, runTool, ToolError, toolAdapter, withAdmin, type ToolContext } from './kafka-tools.js';

interface ForgetOptions extends SecurityFlags {
  stateDir?: string;
  brokers?: string;
  person: string[];
  identifier: SubjectIdentifier[];
  requestedBy?: string;
  requestId?: string;
  outDir: string;
}

const identifierArg = (v: string, previous: SubjectIdentifier[] = []): SubjectIdentifier[] => {
  const at = v.indexOf(':');
  if (at <= 0 || at === v.length - 1) throw new InvalidArgumentError(`--identifier must be <field>:<value> (e.g. userId:u1), got "${v}"`);
  return [...previous, { field: v.slice(0, at), value: v.slice(at + 1) }];
};
const many = (v: string, previous: string[] = []): string[] => [...previous, v];

export function registerForget(program: Command, io: CliIo, ctx: ToolContext): void {
  program
    .command('forget')
    .description('erase a person from a pipeline\'s state (GDPR/PIPA erasure): embedded, in a stopped pipeline\'s --state-dir at once; Kafka (--brokers), as a request on every partition of the source topic that the pipeline applies in every task. One audit record per task on the forgotten stream')
    .argument('<pipeline>', 'pipeline definition (.yaml, .yml or .json)')
    .option('--person <personId>', 'a person id (joinIdentity) to forget; repeatable', many, [])
    .option('--identifier <field:value>', 'an identifier to forget, e.g. userId:u1 or anonymousId:a1; repeatable (joinIdentity widens it to the whole person)', identifierArg, [])
    .option('--requested-by <who>', 'who asked (kept in the audit record)')
    .option('--request-id <id>', 'the request\'s id (the audit records\' requestId); default a random one')
    .option('-s, --state-dir <dir>', 'embedded: the stopped pipeline\'s state directory')
    .option('-o, --out-dir <dir>', 'embedded: where forgotten.ndjson gets the audit record', '.')
    .option('-b, --brokers <host:port,...>', 'Kafka: bootstrap brokers (KAFKA_BROKERS, then kafka.brokers of the definition, when not given)')
    .addHelpText('after', '\nExample:\n  tributary forget examples/cart-abandonment/pipeline.yaml --state-dir state --identifier userId:user-48 --requested-by dpo@example.com\n  tributary forget examples/cart-abandonment/pipeline.yaml --brokers 127.0.0.1:9092 --identifier userId:user-48\n')
    .action(async (file: string, opts: ForgetOptions) => {
      const topology = ctx.load(file);
      if (opts.person.length === 0 && opts.identifier.length === 0) {
        io.stderr('error: name the person: --person <personId> or --identifier <field:value>\n');
        throw ctx.exit(BAD_ARGUMENTS);
      }
      if ((opts.stateDir === undefined) === (opts.brokers === undefined)) {
        io.stderr('error: choose one: --state-dir <dir> (a stopped embedded pipeline) or --brokers <host:port> (Kafka)\n');
        throw ctx.exit(BAD_ARGUMENTS);
      }
      const args: ForgetArgs = {
        identifiers: opts.identifier, personIds: opts.person, requestId: opts.requestId ?? `forget-${randomUUID()}`,
        ...(opts.requestedBy === undefined ? {} : { requestedBy: opts.requestedBy }),
      };
      if (opts.stateDir !== undefined) {
        try {
          const record = await forgetInStateDir({ topology, stateDir: opts.stateDir, outDir: opts.outDir, args });
          io.stdout(`forgot request ${record.requestId} in ${opts.stateDir}: ${record.total} entr${record.total === 1 ? 'y' : 'ies'} removed (${Object.entries(record.stores).map(([s, n]) => `${s} ${n}`).join(', ')}); audit record in ${opts.outDir}/forgotten.ndjson\n`);
        } catch (error) {
          io.stderr(`error: ${error instanceof Error ? error.message : String(error)}\n`);
          throw ctx.exit(1);
        }
        return;
      }
      const source = topology.source.topic;
      if (!source) {
        io.stderr(`error: ${file}: source.topic is required for Kafka\n`);
        throw ctx.exit(BAD_ARGUMENTS);
      }
      if (topology.steps.some((s) => s.partitioning === 'global-table')) {
        io.stderr(`error: ${file}: forgetting a person is not supported with joinIdentity mode: global-table (its global table is written by one resolver task and read by all); use the default mode\n`);
        throw ctx.exit(BAD_ARGUMENTS);
      }
      const conn = connectionOf(io, ctx, opts, topology, file);
      const adapter = toolAdapter(conn);
      await runTool(io, ctx, conn, async () => {
        const partitions = await withAdmin(adapter, async (admin) => (await admin.describeTopics([source]))[0]?.partitions.length);
        if (partitions === undefined) throw new ToolError(`source topic ${source} does not exist (tributary topics ${file} --create makes it)`);
        const event = forgetEvent(args, args.requestId as string, systemClock.now());
        const value = topology.source.format === 'avro' ? encodeAvroEvent(event) : Buffer.from(JSON.stringify(event), 'utf8');
        const producer = await adapter.producer({ idempotent: true });
        try {
          await producer.send(Array.from({ length: partitions }, (_, partition) => ({ topic: source, key: Buffer.from(event.messageId, 'utf8'), value, partition })));
        } finally {
          await producer.disconnect().catch(() => undefined);
        }
        io.stdout(`sent forget request ${event.messageId} to all ${partitions} partitions of ${source}: each task of the pipeline applies it and writes its audit record to ${topology.streams.find((s) => s.name === 'forgotten')?.topic}\n`);
      });
    });
}
