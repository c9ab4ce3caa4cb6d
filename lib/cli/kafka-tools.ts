/**
 * What the Kafka command-line tools (`topics`, `produce`, `consume`, `reset`, `replay`) share:
 * where the brokers are and how to reach them (TLS, SASL, the registry's login), a quiet
 * fail-fast client, one-line errors, and the pipeline's topics by role.
 */
import type { Topology } from '../pipeline/compile.js';
import { createKafkaJsAdapter, type KafkaAdapter, type KafkaAdmin, type KafkaSecurity } from '../runtime/kafka/client.js';
import { planTopics, type PlannedTopic } from '../runtime/kafka/topics.js';
import { SchemaRegistryClient } from '../serde/schema-registry.js';
import { securityFailure } from './connection-errors.js';
import { ConnectionSettingsError, definitionDir, loadRegistry, loadSecurity, planRegistry, planSecurity, type RegistryFlags, type SecurityFlags } from './kafka-connection.js';
import type { CliIo } from './program.js';

/** What `program.ts` hands each tool: loading a pipeline (exit 2 on a bad one) and exit codes. */
export interface ToolContext {
  /**
   * Loads and compiles a pipeline definition (from `text` when the caller read the file already:
   * a pipe gives its bytes once); prints its issues and throws an exit-2 error when invalid.
   */
  load(file: string, text?: string): Topology;
  /** An error that makes the program exit with `code` (its message already printed). */
  exit(code: number): Error;
}

/** Exit codes (as `program.ts`). */
export const RUNTIME_FAILURE = 1;
export const BAD_ARGUMENTS = 2;

/** The default bootstrap broker when neither a flag, KAFKA_BROKERS nor the definition names one. */
export const DEFAULT_BROKERS = '127.0.0.1:9092';

/** The brokers: `--brokers`, then KAFKA_BROKERS, then `kafka.brokers` of the definition, then {@link DEFAULT_BROKERS}. */
export function brokersOf(flag: string | undefined, topology?: Topology): string[] {
  const text = flag ?? process.env.KAFKA_BROKERS ?? topology?.definition.kafka?.brokers?.join(',') ?? DEFAULT_BROKERS;
  return text.split(',').map((b) => b.trim()).filter(Boolean);
}

/** Where a command connects: the brokers and how (TLS, SASL). */
export interface KafkaConnection {
  brokers: string[];
  security: KafkaSecurity;
}

/** Runs `decide`; bad connection settings are one `error: …` line and exit 2. */
function settingsOrExit<T>(io: CliIo, ctx: ToolContext, decide: () => T): T {
  try {
    return decide();
  } catch (e) {
    if (!(e instanceof ConnectionSettingsError)) throw e;
    io.stderr(`error: ${e.message}\n`);
    throw ctx.exit(BAD_ARGUMENTS);
  }
}

/** TLS and SASL from the flags, the environment, then the definition (read from `file`); warnings printed. */
export function securityOf(io: CliIo, ctx: ToolContext, flags: SecurityFlags, topology?: Topology, file?: string): KafkaSecurity {
  return settingsOrExit(io, ctx, () => {
    const plan = planSecurity(flags, process.env, topology?.definition.kafka, definitionDir(file));
    for (const warning of plan.warnings) io.stderr(`warning: ${warning}\n`);
    return loadSecurity(plan);
  });
}

/** The brokers ({@link brokersOf}) and the security ({@link securityOf}). */
export function connectionOf(io: CliIo, ctx: ToolContext, flags: SecurityFlags & { brokers?: string }, topology?: Topology, file?: string): KafkaConnection {
  return { brokers: brokersOf(flags.brokers, topology), security: securityOf(io, ctx, flags, topology, file) };
}

/** The schema registry client (with its login), or undefined when no registry URL is set. */
export function registryOf(io: CliIo, ctx: ToolContext, flags: RegistryFlags, topology?: Topology, file?: string): SchemaRegistryClient | undefined {
  const registry = settingsOrExit(io, ctx, () => {
    const plan = planRegistry(flags, process.env, topology?.definition.kafka, definitionDir(file));
    return plan && loadRegistry(plan);
  });
  return registry && new SchemaRegistryClient(registry.url, registry.basicAuth ? { basicAuth: registry.basicAuth } : {});
}

/** A kafkajs client that logs nothing and gives up on an unreachable broker within seconds. */
export function toolAdapter(connection: KafkaConnection, clientId = 'tributary-cli'): KafkaAdapter {
  return createKafkaJsAdapter({ brokers: connection.brokers, security: connection.security, clientId, logLevel: 'nothing', connection: { timeoutMs: 2000, retries: 3 } });
}

/** An error to print as one line (`error: …`) with exit code 1. */
export class ToolError extends Error {}

const UNREACHABLE = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|Connection (error|timeout)|connect(ion)? .*(refused|timed? ?out)|KafkaJSConnection|KafkaJSNumberOfRetriesExceeded|Closed connection|broker not available/i;

/** One line for `e`: a TLS or SASL failure or an unreachable broker is said so, with the fix; anything else by its message. */
export function oneLine(e: unknown, connection: KafkaConnection): string {
  const { brokers } = connection;
  const security = e instanceof ToolError ? undefined : securityFailure(e, connection);
  if (security !== undefined) return security;
  const err = e as { name?: string; message?: string; cause?: { message?: string }; originalError?: { message?: string } };
  const message = (err?.message ?? String(e)).split('\n')[0] ?? '';
  const inner = err?.originalError?.message ?? err?.cause?.message;
  const detail = inner && !message.includes(inner) ? `${message}: ${inner}` : message;
  if (e instanceof ToolError) return detail;
  if (UNREACHABLE.test(`${err?.name ?? ''} ${detail}`)) return `cannot reach Kafka at ${brokers.join(',')} (${detail}); is the broker running?`;
  return detail;
}

/**
 * Runs a tool's body: any failure becomes one `error: …` line and exit 1. `kafkajs` leaves
 * sockets and timers behind after a failed connect, so the tools never wait for them.
 */
export async function runTool(io: CliIo, ctx: ToolContext, connection: KafkaConnection, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (e instanceof (ctx.exit(0).constructor as new () => Error)) throw e; // already reported
    io.stderr(`error: ${oneLine(e, connection)}\n`);
    throw ctx.exit(RUNTIME_FAILURE);
  }
}

/** Connects an admin client, runs `use`, disconnects. */
export async function withAdmin<T>(adapter: KafkaAdapter, use: (admin: KafkaAdmin) => Promise<T>): Promise<T> {
  const admin = await adapter.admin();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** One of the pipeline's topics, by role. */
export interface RoleTopic {
  name: string;
  role: 'source' | PlannedTopic['role'];
  /** What it belongs to (streams, store, step). */
  of: string;
  /** Partitions it is created with. */
  partitions: number;
  planned?: PlannedTopic;
}

/** The source topic, the outputs (sink, named outputs, dead-letter, late, forgotten) and the internal topics (repartition, changelog). */
export function pipelineTopics(topology: Topology, sourcePartitions: number): RoleTopic[] {
  const plan = planTopics(topology, sourcePartitions);
  const source: RoleTopic[] = topology.source.topic ? [{ name: topology.source.topic, role: 'source', of: 'source', partitions: sourcePartitions }] : [];
  const order = { output: 0, repartition: 1, changelog: 2 } as const;
  const planned = [...plan.topics].sort((a, b) => order[a.role] - order[b.role]);
  return [...source, ...planned.map((t) => ({ name: t.name, role: t.role, of: t.of, partitions: t.partitions, planned: t }))];
}

/** Refuses (one line, exit 1) while the pipeline's consumer group has members: a running pipeline. */
export async function refuseWhileRunning(admin: KafkaAdmin, group: string, what: string): Promise<void> {
  const members = await admin.groupMembers(group);
  if (members.length > 0) {
    throw new ToolError(`consumer group ${group} has ${members.length} active member${members.length > 1 ? 's' : ''}: stop the pipeline before ${what}`);
  }
}

/** A table with left-aligned columns. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}
