/**
 * `tributary produce <topic> --input <file|->`: writes NDJSON, CSV or Avro container files into a
 * topic (kcat -P), keyed as the pipeline's source is keyed, so each key lands in the partition
 * the runtime's partitioner (murmur2, Kafka's default) gives it.
 */
import { extname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolveKey } from '../event/key.js';
import { createNormalizer } from '../event/normalize.js';
import type { Topology } from '../pipeline/compile.js';
import type { ProducerRecord } from '../runtime/kafka/client.js';
import { partitionForKey } from '../runtime/kafka/partitioner.js';
import { readSourceBatches, type InputFormat } from '../runtime/sources.js';
import { encodeAvroEvent } from '../serde/avro.js';
import type { CliIo } from './program.js';
import type { SecurityFlags } from './kafka-connection.js';
import { BAD_ARGUMENTS, connectionOf, runTool, ToolError, toolAdapter, withAdmin, type ToolContext } from './kafka-tools.js';

interface ProduceOptions extends SecurityFlags {
  input: string;
  pipeline?: string;
  format?: InputFormat;
  key?: string;
  rate?: number;
  brokers?: string;
}

const rateArg = (v: string): number => {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0)) throw new InvalidArgumentError(`--rate must be a positive number of events per second, got "${v}"`);
  return n;
};

/** The input format: `--format`, else the file extension (.csv, .avro), else NDJSON. */
function formatOf(input: string, format: InputFormat | undefined): InputFormat {
  if (format) return format;
  const ext = extname(input).toLowerCase();
  return ext === '.csv' ? 'csv' : ext === '.avro' ? 'avro' : 'json';
}

/** Turns one input record into a message value and key: the pipeline's mapping decides the key, its source format the encoding. */
function encoderFor(topology: Topology | undefined, keyFields: string[] | undefined) {
  const normalize = createNormalizer(topology?.source.mapping);
  const avro = topology?.source.format === 'avro';
  return (value: unknown, raw: string | undefined): { key: string | undefined; value: Buffer } | string => {
    const n = keyFields || avro ? normalize(value) : undefined;
    const key = n?.ok && keyFields ? resolveKey(n.event, keyFields) : undefined;
    if (avro) {
      if (!n?.ok) return `${n?.reason ?? 'invalid'}: ${n?.detail ?? ''}`;
      return { key, value: encodeAvroEvent(n.event) };
    }
    return { key, value: Buffer.from(raw ?? JSON.stringify(value), 'utf8') };
  };
}

export function registerProduce(program: Command, io: CliIo, ctx: ToolContext): void {
  program
    .command('produce')
    .description('write records into a topic: NDJSON lines as they are, CSV rows as JSON objects, Avro container files as events; keyed by the pipeline\'s source key (first non-null of source.key, after its mapping) and placed by Kafka\'s murmur2 partitioner, as the runtime does')
    .argument('<topic>', 'topic to write to (it must exist: tributary topics <pipeline> --create)')
    .requiredOption('-i, --input <file|->', 'NDJSON, CSV or Avro container file, or - for stdin')
    .option('--pipeline <pipeline>', 'key records by this pipeline\'s source.key (through its source mapping), and encode them in its source format (avro: plain event bodies)')
    .addOption(new Option('-f, --format <format>', 'input format (default from the file extension: .csv, .avro, else NDJSON)').choices(['json', 'csv', 'avro']))
    .option('-k, --key <fields>', 'key fields (comma-separated, first non-null) instead of the pipeline\'s source.key')
    .option('--rate <events/s>', 'produce at most this many records per second (default: as fast as the broker takes them)', rateArg)
    .option('-b, --brokers <host:port,...>', 'bootstrap brokers (default KAFKA_BROKERS, then kafka.brokers of the pipeline, then 127.0.0.1:9092)')
    .addHelpText('after', '\nExample:\n  tributary generate --events 2000 --seed 3 --out events.ndjson\n  tributary produce behavior-events --input events.ndjson --pipeline examples/cart-abandonment/pipeline.yaml\n')
    .action(async (topic: string, opts: ProduceOptions) => {
      const topology = opts.pipeline === undefined ? undefined : ctx.load(opts.pipeline);
      const keyFields = opts.key !== undefined ? opts.key.split(',').map((s) => s.trim()).filter(Boolean) : topology?.source.key;
      if (opts.key !== undefined && keyFields?.length === 0) {
        io.stderr('error: --key needs at least one field name\n');
        throw ctx.exit(BAD_ARGUMENTS);
      }
      const format = formatOf(opts.input, opts.format);
      const conn = connectionOf(io, ctx, opts, topology, opts.pipeline);
      const adapter = toolAdapter(conn);
      const encode = encoderFor(topology, keyFields);
      await runTool(io, ctx, conn, async () => {
        const partitions = await withAdmin(adapter, async (admin) => (await admin.describeTopics([topic]))[0]?.partitions.length);
        if (partitions === undefined) {
          throw new ToolError(`topic ${topic} does not exist${topology ? ` (tributary topics ${opts.pipeline} --create makes it)` : ''}`);
        }
        const counts = new Array<number>(partitions).fill(0);
        let sent = 0;
        let unkeyed = 0;
        let roundRobin = 0;
        const skipped: string[] = [];
        const started = performance.now();
        const producer = await adapter.producer({ idempotent: true });
        try {
          let pending: ProducerRecord[] = [];
          const chunk = opts.rate === undefined ? 1000 : Math.max(1, Math.min(1000, Math.ceil(opts.rate / 20)));
          const flush = async () => {
            if (pending.length === 0) return;
            await producer.send(pending);
            sent += pending.length;
            pending = [];
            if (opts.rate !== undefined) {
              const due = (sent / opts.rate) * 1000 - (performance.now() - started);
              if (due > 0) await sleep(due);
            }
          };
          for await (const batch of readSourceBatches(opts.input, format)) {
            for (const item of batch) {
              const where = item.origin !== undefined ? `${item.origin}:${item.line ?? '?'}` : (item.source ?? '?');
              if (!item.ok) {
                skipped.push(`${where}: ${item.reason} (${item.detail})`);
                continue;
              }
              const out = encode(item.value, format === 'json' ? item.raw : undefined);
              if (typeof out === 'string') {
                skipped.push(`${where}: ${out}`);
                continue;
              }
              const key = out.key === undefined ? null : Buffer.from(out.key, 'utf8');
              if (key === null) unkeyed++;
              const partition = key === null ? roundRobin++ % partitions : partitionForKey(key, partitions);
              counts[partition] = (counts[partition] ?? 0) + 1;
              pending.push({ topic, key, value: out.value, partition });
              if (pending.length >= chunk) await flush();
            }
          }
          await flush();
        } finally {
          await producer.disconnect().catch(() => undefined);
        }
        const used = counts.flatMap((n, p) => (n > 0 ? [`p${p}: ${n}`] : []));
        const seconds = (performance.now() - started) / 1000;
        io.stdout(`produced ${sent} record${sent === 1 ? '' : 's'} to ${topic}: ${used.length} of ${partitions} partitions (${used.join(', ')})`
          + `${keyFields ? `, keyed by ${keyFields.join('|')}${unkeyed > 0 ? ` (${unkeyed} without a key, round-robin)` : ''}` : ', unkeyed (round-robin)'} in ${seconds.toFixed(1)} s\n`);
        if (skipped.length > 0) io.stderr(`skipped ${skipped.length} unreadable record${skipped.length > 1 ? 's' : ''}; first: ${skipped[0]}\n`);
      });
    });
}
