/**
 * The `tributary` command line, built by {@link createProgram} so every command
 * can be run in-process by tests; `bin/tributary.ts` only calls {@link runCli}.
 * Exit codes: 0 ok, 1 runtime failure, 2 invalid definition or arguments.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { OperatorRegistry } from '../operator/contract.js';
import { registerBench } from './bench.js';
import { describeFailure } from './errors.js';
import { registerForget } from './forget.js';
import { registerInit } from './init.js';
import { registerInspect } from './inspect.js';
import { registerReplay } from './replay.js';
import { conflictingFlag, deadLetterVerdict, type FlagSource } from './run-checks.js';
import { compilePipeline, describeTopology, topologyMermaid } from '../pipeline/compile.js';
import { isHostOrIp } from '../pipeline/definition-checks.js';
import { DefinitionError } from '../pipeline/errors.js';
import { loadPipelineFile, parsePipeline } from '../pipeline/load.js';
import { formatSummary, outputAsInput, runEmbedded } from '../runtime/embedded.js';
import { generateEvents, writeEventsNdjson } from '../generate/index.js';
import { createKafkaJsAdapter } from '../runtime/kafka/client.js';
import { describeSecurity } from '../runtime/kafka/connection.js';
import { formatKafkaSummary, runKafka } from '../runtime/kafka/runner.js';
import { ProcessingError } from '../runtime/task.js';
import { parseDuration, type Duration } from '../time/duration.js';
import { isSecurityLogNoise, securityFailure } from './connection-errors.js';
import { registerConsume } from './consume.js';
import { addRegistryAuthOptions, addSecurityOptions, type RegistryFlags, type SecurityFlags } from './kafka-connection.js';
import { registryOf, securityOf } from './kafka-tools.js';
import { registerProduce } from './produce.js';
import { registerReset } from './reset.js';
import { registerTopics } from './topics.js';

/** Where the program writes; tests capture both. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether a stop signal came before the command started (while the CLI loaded): `run` stops at once. */
  stopRequested?: () => boolean;
}

interface RunOptions extends SecurityFlags, RegistryFlags {
  input?: string;
  outDir?: string;
  brokers?: string;
  bounded?: boolean;
  final?: boolean;
  restart?: boolean;
  schemaRegistry?: string;
  sessionTimeout: number;
  commitInterval?: string;
  stateDir?: string;
  format?: 'json' | 'csv' | 'avro';
  checkpointEvery: number;
  cacheMb: number;
  quiet?: boolean;
  statePort?: number;
  maxDeadLetterRatio?: number;
  metricsPort?: number;
  metricsHost?: string;
}

/** The version in package.json (the CLI's `--version`). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Exit codes of the `tributary` command. */
export const EXIT = { ok: 0, failure: 1, invalid: 2 } as const;

class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

const int = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new InvalidArgumentError(`${name} must be a whole number, got "${v}"`);
  return Number(v);
};

/** An address to bind: an IP address or a host name (a newline or a space would be neither). */
const hostArg = (name: string) => (v: string) => {
  if (!isHostOrIp(v)) throw new InvalidArgumentError(`${name} must be an IP address or a host name, got ${JSON.stringify(v)}`);
  return v;
};

/** A TCP port, 0 (any free one) to 65535. */
const portArg = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError(`${name} must be a port number from 0 to 65535, got "${v}"`);
  return Number(v);
};

const durationArg = (name: string) => (v: string) => {
  let ms: number;
  try {
    ms = parseDuration(v as Duration);
  } catch {
    throw new InvalidArgumentError(`${name} must be a duration such as 100ms, 2s or 1m, got "${v}"`);
  }
  // Node.js cuts a longer timer to 1 ms.
  if (ms > 2 ** 31 - 1) throw new InvalidArgumentError(`${name} must be at most 24d (the longest timer Node.js keeps), got "${v}"`);
  return v;
};

/** Warns when every record was a dead letter; exit 1 when their share passed --max-dead-letter-ratio. */
function checkDeadLetters(records: number, deadLetters: Record<string, number>, maxRatio: number | undefined, io: CliIo): void {
  const verdict = deadLetterVerdict(records, deadLetters, maxRatio);
  if (!verdict) return;
  io.stderr(`${verdict.level === 'failure' ? 'error' : 'warning'}: ${verdict.message}\n`);
  if (verdict.level === 'failure') throw new ExitCode(EXIT.failure);
}

const ratioArg = (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError(`--max-dead-letter-ratio must be a number from 0 to 1, got "${v}"`);
  return n;
};

/** The runner option for a commit interval written as a duration (none: the runner's default). */
function commitInterval(d: Duration | undefined): { commitIntervalMs?: number } {
  return d === undefined ? {} : { commitIntervalMs: parseDuration(d) };
}

/** Where `tributary run` serves its operations endpoint: flags, then TRIBUTARY_METRICS_PORT, then the definition. */
function opsOptions(opts: RunOptions, fromDefinition: { port?: number; host?: string } | undefined, io: CliIo) {
  const env = process.env.TRIBUTARY_METRICS_PORT;
  if (env !== undefined && env !== '' && (!/^\d+$/.test(env) || Number(env) > 65535)) {
    io.stderr(`error: TRIBUTARY_METRICS_PORT must be a port number from 0 to 65535, got "${env}"\n`);
    throw new ExitCode(EXIT.invalid);
  }
  const metricsPort = opts.metricsPort ?? (env ? Number(env) : undefined) ?? fromDefinition?.port;
  const host = opts.metricsHost ?? fromDefinition?.host ?? '127.0.0.1';
  const announce = (what: string) => (port: number) => io.stderr(`${what}: http://${host}:${port}/metrics /healthz /readyz /state/<step>/<key>\n`);
  return {
    ...(metricsPort === undefined ? {} : { metricsPort }),
    ...(opts.statePort === undefined ? {} : { statePort: opts.statePort }),
    metricsHost: host,
    onMetricsServer: announce('operations endpoint'),
    onStateServer: announce('operations endpoint'),
  };
}

/**
 * Builds the program.
 *
 * @example
 * ```ts
 * const program = createProgram(defaultRegistry, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
 * await program.parseAsync(['node', 'tributary', 'validate', 'pipeline.yaml']);
 * ```
 */
export function createProgram(registry: OperatorRegistry, io: CliIo): Command {
  const program = new Command('tributary')
    .description('Behavioral stream pipelines: run, validate and generate')
    .exitOverride()
    // A flag's value quoted in commander's error keeps its control characters (a newline made two lines).
    // eslint-disable-next-line no-control-regex
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: (text, write) => write(text.replace(/[\u0000-\u001f\u007f-\u009f](?!$)/g, (c) => JSON.stringify(c).slice(1, -1))) })
    .showHelpAfterError('(add --help for usage)')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--verbose', 'print the stack trace of a runtime failure (also TRIBUTARY_VERBOSE=1)');

  /** A definition from its file, or from its text already read (`text`: a pipe can be read once). */
  const load = (file: string, text?: string) => {
    try {
      const def = text === undefined ? loadPipelineFile(file, registry) : parsePipeline(text, file, registry);
      return compilePipeline(def, registry);
    } catch (e) {
      if (e instanceof DefinitionError) {
        io.stderr(`${e.message}\n${file}: invalid pipeline definition (${e.issues.length} issue${e.issues.length > 1 ? 's' : ''}); nothing was run\n`);
        throw new ExitCode(EXIT.invalid);
      }
      throw e;
    }
  };

  program
    .command('run')
    .description('run a pipeline: embedded (--input: a file or stdin in, <out-dir>/<stream>.ndjson out) or against Kafka (--brokers, KAFKA_BROKERS or kafka.brokers in the definition)')
    .argument('<pipeline>', 'pipeline definition (.yaml, .yml or .json)')
    .option('-i, --input <file|->', 'embedded: input NDJSON, CSV or Avro file, or - for stdin (NDJSON)')
    .option('-o, --out-dir <dir>', 'embedded: directory for the output streams')
    .option('-b, --brokers <host:port,...>', 'Kafka: bootstrap brokers (default KAFKA_BROKERS, then kafka.brokers of the definition)')
    .option('--bounded', 'Kafka: stop at the end offsets the source topic has at start (a replay or backfill); the state stays open for a later run unless --final')
    .option('--final', 'at the end of input close everything: every timer fires, every session and window closes, dedupe forgets its keys (default: embedded without --state-dir; off with --state-dir and for --bounded, whose state a later run continues)')
    .option('--restart', 'embedded: start over: delete the state directory\'s state (an interrupted run\'s checkpoint, what a previous run left open) and write the outputs from empty')
    .option('--schema-registry <url>', 'Kafka: Confluent schema registry for Avro (default SCHEMA_REGISTRY_URL, then kafka.schemaRegistry)')
    .option('--session-timeout <ms>', 'Kafka: consumer group session timeout', int('--session-timeout'), 30_000)
    .option('--commit-interval <duration>', 'Kafka: a task commits at most this often (default 100ms; 0ms: after every fetched batch)', durationArg('--commit-interval'))
    .option('-s, --state-dir <dir>', 'LMDB state directory (embedded: default <out-dir>/.state, fresh per run, an explicit one keeps state across runs; Kafka: default ./state, tasks under <dir>/<app>/<task>)')
    .addOption(new Option('-f, --format <format>', 'input format (default from the file extension)').choices(['json', 'csv', 'avro']))
    .option('--checkpoint-every <n>', 'records between checkpoints', int('--checkpoint-every'), 10_000)
    .option('--cache-mb <mb>', 'memory for decoded state per task, estimated; stores that fit stay resident, larger ones read through LMDB', int('--cache-mb'), 256)
    .option('-q, --quiet', 'no progress lines')
    .option('--max-dead-letter-ratio <r>', 'exit 1 when more than this share of the records (0 to 1) were dead letters; a run where all were warns anyway', ratioArg)
    .option('--metrics-port <port>', 'serve /metrics (Prometheus), /healthz, /readyz and /state/<step>/<key> on this port while the run lasts (default TRIBUTARY_METRICS_PORT, then metrics.port of the definition)', portArg('--metrics-port'))
    .option('--metrics-host <host>', 'address the metrics port binds (default 127.0.0.1, or metrics.host of the definition)', hostArg('--metrics-host'))
    .option('--state-port <port>', 'serve GET /state/<step>/<key> (a key\'s current state in a step) while the run lasts; the same endpoints as --metrics-port', portArg('--state-port'))
    .addHelpText('after', '\nExample:\n  tributary run examples/rees46-dedupe/pipeline.yaml --input examples/data/rees46-2019-10-01-head.csv --out-dir out/rees46\n  tributary run examples/cart-abandonment/pipeline.yaml --brokers localhost:9092 --state-dir state\n')
    .action(async (file: string, opts: RunOptions, command: Command) => {
      const conflict = conflictingFlag((f) => command.getOptionValueSource(f) as ReturnType<FlagSource>, opts);
      if (conflict) {
        io.stderr(`error: ${conflict}\n`);
        throw new ExitCode(EXIT.invalid);
      }
      const topology = load(file);
      const brokers = opts.brokers ?? process.env.KAFKA_BROKERS ?? topology.definition.kafka?.brokers?.join(',');
      if (opts.input === undefined && brokers === undefined) {
        io.stderr('error: say where the events come from: --input <file> (embedded) or --brokers <host:port> (Kafka; or KAFKA_BROKERS, or kafka.brokers in the definition)\n');
        throw new ExitCode(EXIT.invalid);
      }
      if (opts.input !== undefined && opts.outDir === undefined) {
        io.stderr('error: --input needs --out-dir <dir> for the output streams\n');
        throw new ExitCode(EXIT.invalid);
      }
      const ops = opsOptions(opts, topology.definition.metrics, io);
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      if (io.stopRequested?.()) abort.abort();
      try {
        if (opts.input === undefined) {
          if (!topology.source.topic) {
            io.stderr(`error: ${file}: source.topic is required to run against Kafka\n`);
            throw new ExitCode(EXIT.invalid);
          }
          const brokerList = (brokers as string).split(',').map((b) => b.trim()).filter(Boolean);
          const security = securityOf(io, tools, opts, topology, file);
          const schemaRegistry = registryOf(io, tools, opts, topology, file);
          if (!opts.quiet && (security.tls || security.sasl)) io.stderr(`kafka: ${brokerList.join(',')} over ${describeSecurity(security)}\n`);
          const summary = await runKafka({
            topology,
            adapter: createKafkaJsAdapter({ brokers: brokerList, security, clientId: topology.name, log: (line) => isSecurityLogNoise(line) || io.stderr(`${line}\n`) }),
            stateDir: opts.stateDir ?? 'state',
            cacheBytes: opts.cacheMb * 2 ** 20,
            bounded: opts.bounded === true,
            final: opts.final === true,
            signal: abort.signal,
            sessionTimeoutMs: opts.sessionTimeout,
            ...commitInterval((opts.commitInterval as Duration | undefined) ?? topology.definition.kafka?.commitInterval),
            ...(schemaRegistry ? { schemaRegistry } : {}),
            log: opts.quiet ? undefined : (line) => io.stderr(`${line}\n`),
            ...ops,
          }).catch((e: unknown) => {
            const line = securityFailure(e, { brokers: brokerList, security });
            if (line === undefined) throw e;
            io.stderr(`error: ${line}\n`);
            throw new ExitCode(EXIT.failure);
          });
          io.stdout(formatKafkaSummary(summary) + '\n');
          checkDeadLetters(summary.records, summary.deadLetters, opts.maxDeadLetterRatio, io);
          return;
        }
        const clash = outputAsInput(opts.input, resolve(opts.outDir as string), topology.streams.map((s) => s.name));
        if (clash) {
          io.stderr(`error: ${clash}\n`);
          throw new ExitCode(EXIT.invalid);
        }
        const summary = await runEmbedded({
          topology,
          input: opts.input,
          format: opts.format,
          outDir: opts.outDir as string,
          stateDir: opts.stateDir,
          ...(opts.final ? { final: true } : {}),
          ...(opts.restart ? { restart: true } : {}),
          checkpointEvery: opts.checkpointEvery,
          cacheBytes: opts.cacheMb * 2 ** 20,
          ...ops,
          signal: abort.signal,
          onProgress: opts.quiet ? undefined : (p) => io.stderr(`… ${p.records} records, ${Math.round(p.eventsPerSecond)} events/s\n`),
        });
        io.stdout(formatSummary(summary) + '\n');
        checkDeadLetters(summary.records, summary.deadLetters, opts.maxDeadLetterRatio, io);
        if (summary.interrupted) io.stderr('stopped by signal after a checkpoint; run the same command again to resume\n');
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });

  program
    .command('validate')
    .description('check a pipeline definition; prints its topology, or every issue with file:line:column and exits 2')
    .argument('<pipeline>', 'pipeline definition (.yaml, .yml or .json)')
    .addHelpText('after', '\nExample:\n  tributary validate examples/rees46-dedupe/pipeline.yaml\n')
    .action((file: string) => {
      const topology = load(file);
      io.stdout(`${file}: valid\n${describeTopology(topology)}\n`);
    });

  program
    .command('describe')
    .description('print the compiled topology: steps, keys, stores, sub-topologies, streams and topics')
    .argument('<pipeline>', 'pipeline definition')
    .option('--mermaid', 'print a Mermaid flowchart instead of text')
    .addHelpText('after', '\nExample:\n  tributary describe examples/rees46-dedupe/pipeline.yaml --mermaid\n')
    .action((file: string, opts: { mermaid?: boolean }) => {
      const topology = load(file);
      io.stdout((opts.mermaid ? topologyMermaid(topology) : describeTopology(topology)) + '\n');
    });

  program
    .command('generate')
    .description('write a synthetic behavioral event stream (NDJSON): journeys across channels, identifies, carts, purchases, duplicates, out-of-order and late events')
    .requiredOption('-n, --events <n>', 'number of events', int('--events'))
    .option('--seed <n>', 'random seed (same seed, same stream)', int('--seed'), 1)
    .option('--out <file>', 'output file (default stdout)')
    .addHelpText('after', '\nExample:\n  tributary generate --events 1000000 --seed 7 --out events.ndjson\n')
    .action(async (opts: { events: number; seed: number; out?: string }) => {
      const out = opts.out ? createWriteStream(opts.out) : process.stdout;
      // A path that cannot be opened (a missing directory) is an error here, not an unhandled 'error' event.
      if (opts.out) await new Promise((ok, ko) => (out as ReturnType<typeof createWriteStream>).once('open', ok).once('error', ko));
      await writeEventsNdjson(generateEvents({ events: opts.events, seed: opts.seed }), out);
      if (opts.out) {
        await new Promise<void>((ok, ko) => (out as ReturnType<typeof createWriteStream>).end((e?: Error | null) => (e ? ko(e) : ok())));
        io.stderr(`wrote ${opts.events} events to ${opts.out}\n`);
      }
    });

  const fail = (code: number): never => {
    throw new ExitCode(code);
  };
  registerInit(program, io, fail);
  registerInspect(program, io, fail);
  // Kafka tools, each in its own file.
  const tools = { load, exit: (code: number) => new ExitCode(code) };
  registerTopics(program, io, tools);
  registerProduce(program, io, tools);
  registerConsume(program, io, tools);
  registerReset(program, io, tools);
  registerReplay(program, io, tools);
  registerBench(program, io, tools, registry);
  registerForget(program, io, tools);
  // TLS and SASL for every command that talks to Kafka; the registry's login where a registry is used.
  for (const command of program.commands) {
    if (['run', 'topics', 'produce', 'consume', 'reset', 'replay', 'bench', 'forget'].includes(command.name())) addSecurityOptions(command);
    if (['run', 'consume'].includes(command.name())) addRegistryAuthOptions(command);
  }

  return program;
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and returns the exit code.
 *
 * @example
 * ```ts
 * const code = await runCli(['validate', 'pipeline.yaml'], defaultRegistry, io); // 0 or 2
 * ```
 */
export async function runCli(argv: string[], registry: OperatorRegistry, io: CliIo): Promise<number> {
  const program = createProgram(registry, io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof ExitCode) return e.code;
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
      return EXIT.invalid;
    }
    // One line that says what failed and what to do (a ProcessingError's message already says
    // where and what to do); the stack only when asked for.
    const at = Math.max(argv.indexOf('--brokers'), argv.indexOf('-b'));
    const brokers = (at >= 0 ? argv[at + 1] : undefined) ?? process.env.KAFKA_BROKERS;
    io.stderr(`error: ${e instanceof ProcessingError ? e.message : describeFailure(e, brokers ? { brokers } : {})}\n`);
    if (program.opts<{ verbose?: boolean }>().verbose || process.env.TRIBUTARY_VERBOSE === '1') io.stderr(`${(e as Error).stack ?? String(e)}\n`);
    return EXIT.failure;
  }
}
