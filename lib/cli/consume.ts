/**
 * `tributary consume <topic>`: prints a topic's records as NDJSON (kcat -C), values decoded —
 * JSON as it is, Avro in the Confluent wire format through the schema registry, plain Avro
 * with a schema file or the pipeline's stream schema. It reads in a consumer group of its own
 * that never commits, so it never disturbs a pipeline's offsets.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import avsc, { type Type } from 'avsc';
import { Command, InvalidArgumentError } from 'commander';
import type { Topology } from '../pipeline/compile.js';
import type { ConsumedRecord } from '../runtime/kafka/client.js';
import { avroEventType, CONFLUENT_MAGIC_BYTE, decodeAvroEvent } from '../serde/avro.js';
import { decodeStreamAvro } from '../serde/derived-avro.js';
import type { SchemaRegistryClient } from '../serde/schema-registry.js';
import type { CliIo } from './program.js';
import type { RegistryFlags, SecurityFlags } from './kafka-connection.js';
import { BAD_ARGUMENTS, connectionOf, registryOf, runTool, ToolError, toolAdapter, withAdmin, type ToolContext } from './kafka-tools.js';

interface ConsumeOptions extends SecurityFlags, RegistryFlags {
  fromBeginning?: boolean;
  max?: number;
  timeout: number;
  brokers?: string;
  schemaRegistry?: string;
  avroSchema?: string;
  pipeline?: string;
  meta?: boolean;
}

const whole = (name: string, min: number) => (v: string): number => {
  if (!/^\d+$/.test(v) || Number(v) < min) throw new InvalidArgumentError(`${name} must be a whole number${min > 0 ? ` of at least ${min}` : ''}, got "${v}"`);
  return Number(v);
};

/** JSON for decoded values: bytes as base64, bigints as strings. */
const jsonReplacer = (_k: string, v: unknown): unknown => {
  if (typeof v === 'bigint') return v.toString();
  const b = v as { type?: unknown; data?: unknown };
  if (b && typeof b === 'object' && b.type === 'Buffer' && Array.isArray(b.data)) return Buffer.from(b.data as number[]).toString('base64');
  return v;
};

const EVENT_TYPE_NAME = avroEventType().name;

type Decode = (value: Buffer) => unknown | Promise<unknown>;

/**
 * The value decoder: a Confluent-framed value (magic byte 0, schema id) through the registry (or
 * the given schema), a plain Avro value with `--avro-schema` or the pipeline's schema for the
 * topic (an Avro output stream, an Avro source), anything else as JSON, else as text.
 */
function decoderFor(topic: string, topology: Topology | undefined, registry: SchemaRegistryClient | undefined, schema: Type | undefined): Decode {
  const stream = topology?.streams.find((s) => s.topic === topic && s.format === 'avro');
  const sourceAvro = topology?.source.topic === topic && topology.source.format === 'avro';
  const plain = (body: Buffer, writer?: Type): unknown => {
    if (stream) {
      const r = decodeStreamAvro(stream.kind, body, writer);
      if (!r.ok) throw new ToolError(`${topic}: a value does not decode as the ${stream.name} stream's Avro: ${r.detail}`);
      return r.record;
    }
    if (sourceAvro) {
      const r = decodeAvroEvent(body, writer ? { writerType: writer } : undefined);
      if (!r.ok) throw new ToolError(`${topic}: a value does not decode as an Avro event: ${r.detail}`);
      return r.event;
    }
    const type = schema ?? writer;
    if (!type) return undefined;
    if (!schema && writer?.name === EVENT_TYPE_NAME) { // a tributary event: its canonical JSON, as the pipeline sees it
      const r = decodeAvroEvent(body, { writerType: writer });
      if (r.ok) return r.event;
    }
    return schema && writer ? schema.fromBuffer(body, schema.createResolver(writer)) : type.fromBuffer(body);
  };
  const avro = Boolean(stream || sourceAvro || schema);
  const asJson = (value: Buffer): unknown => {
    const text = value.toString('utf8');
    try {
      return JSON.parse(text);
    } catch {
      return Buffer.from(text, 'utf8').equals(value) ? text : { base64: value.toString('base64') };
    }
  };
  return (value) => {
    const framed = value.length >= 5 && value[0] === CONFLUENT_MAGIC_BYTE;
    if (framed && registry) {
      const id = value.readInt32BE(1);
      const body = value.subarray(5);
      const cached = registry.cachedSchemaById(id);
      if (cached) return plain(body, cached) ?? cached.fromBuffer(body);
      return registry.schemaById(id).then((writer) => plain(body, writer) ?? writer.fromBuffer(body));
    }
    if (framed && avro) return plain(value.subarray(5));
    if (avro) return plain(value);
    if (framed) throw new ToolError(`${topic}: the values are Avro in the Confluent wire format (schema id ${value.readInt32BE(1)}): give --schema-registry <url> or --avro-schema <file.avsc>`);
    return asJson(value);
  };
}

export function registerConsume(program: Command, io: CliIo, ctx: ToolContext): void {
  program
    .command('consume')
    .description('print a topic\'s records as NDJSON (values decoded: JSON as it is, Avro through the schema registry, a schema file or the pipeline\'s stream schema); reads in a group of its own that never commits, never in the pipeline\'s')
    .argument('<topic>', 'topic to read')
    .option('--from-beginning', 'start at the first record of every partition (default: only records that arrive from now on)')
    .option('-n, --max <n>', 'stop after this many records', whole('--max', 1))
    .option('--timeout <ms>', 'stop once no record arrived for this long (0: wait for ever)', whole('--timeout', 0), 10_000)
    .option('--meta', 'print {topic, partition, offset, timestamp, key, value} instead of the value alone')
    .option('--pipeline <pipeline>', 'decode an Avro output (or source) topic of this pipeline with its schema')
    .option('--avro-schema <file.avsc>', 'decode plain Avro values (or Confluent-framed ones without a registry) with this schema')
    .option('--schema-registry <url>', 'decode Confluent-framed Avro through this registry (default SCHEMA_REGISTRY_URL)')
    .option('-b, --brokers <host:port,...>', 'bootstrap brokers (default KAFKA_BROKERS, then kafka.brokers of the pipeline, then 127.0.0.1:9092)')
    .addHelpText('after', '\nExample:\n  tributary consume campaign-triggers --from-beginning --max 10 --pipeline examples/cart-abandonment/pipeline.yaml --meta\n')
    .action(async (topic: string, opts: ConsumeOptions) => {
      const topology = opts.pipeline === undefined ? undefined : ctx.load(opts.pipeline);
      let schema: Type | undefined;
      if (opts.avroSchema !== undefined) {
        try {
          schema = avsc.Type.forSchema(JSON.parse(readFileSync(opts.avroSchema, 'utf8')) as avsc.Schema);
        } catch (e) {
          io.stderr(`error: --avro-schema ${opts.avroSchema}: ${(e as Error).message.split('\n')[0]}\n`);
          throw ctx.exit(BAD_ARGUMENTS);
        }
      }
      const decode = decoderFor(topic, topology, registryOf(io, ctx, opts, topology, opts.pipeline), schema);
      const conn = connectionOf(io, ctx, opts, topology, opts.pipeline);
      const adapter = toolAdapter(conn);
      await runTool(io, ctx, conn, async () => {
        const exists = await withAdmin(adapter, async (admin) => (await admin.describeTopics([topic])).length > 0);
        if (!exists) throw new ToolError(`topic ${topic} does not exist`);
        const consumer = await adapter.consumer({
          groupId: `tributary-consume-${process.pid}-${randomBytes(4).toString('hex')}`,
          readCommitted: true,
          maxWaitTimeInMs: 200,
          sessionTimeout: 10_000,
          heartbeatInterval: 1_000,
        });
        let printed = 0;
        let last = performance.now();
        let failure: unknown;
        let finish: () => void = () => undefined;
        const finished = new Promise<void>((resolve) => (finish = resolve));
        const print = async (r: ConsumedRecord) => {
          const value = r.value === null ? null : await decode(r.value);
          const line = opts.meta
            ? { topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp, key: r.key === null ? null : r.key.toString('utf8'), value }
            : value;
          io.stdout(`${JSON.stringify(line, jsonReplacer)}\n`);
        };
        // `tributary consume … | head`: a closed stdout ends the read quietly.
        const onPipeError = (e: NodeJS.ErrnoException) => {
          if (e.code !== 'EPIPE') return;
          opts.max = printed;
          finish();
        };
        process.stdout.on('error', onPipeError);
        try {
          consumer.onAssign(() => (last = performance.now()));
          consumer.onCrash((e) => {
            failure = e;
            finish();
          });
          await consumer.subscribe([topic], { fromBeginning: opts.fromBeginning === true });
          await consumer.run({
            eachBatch: async (batch) => {
              for (const r of batch.records) {
                if (failure !== undefined || (opts.max !== undefined && printed >= opts.max)) return;
                try {
                  await print(r);
                } catch (e) {
                  failure = e;
                  finish();
                  return;
                }
                printed++;
                last = performance.now();
                batch.resolveOffset(r.offset);
                if (opts.max !== undefined && printed >= opts.max) finish();
              }
            },
          });
          const idle = opts.timeout > 0 ? setInterval(() => {
            if (performance.now() - last >= opts.timeout) finish();
          }, Math.min(200, opts.timeout)) : undefined;
          await finished;
          if (idle) clearInterval(idle);
        } finally {
          await consumer.disconnect().catch(() => undefined);
          process.stdout.off('error', onPipeError);
        }
        if (failure !== undefined) throw failure;
        io.stderr(`${printed} record${printed === 1 ? '' : 's'} from ${topic}\n`);
      });
    });
}
