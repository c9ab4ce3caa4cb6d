/**
 * Reliability under faults, measured against a broker (and, for `hostile` and the embedded
 * soak, embedded runs): each scenario prints a JSON report (stdout) and progress (stderr).
 *
 *   npm run build && KAFKA_BROKERS=127.0.0.1:9092 node dist/benchmarks/chaos.bench.js --scenario kill --cycles 20
 *
 * Scenarios (--scenario):
 *   kill            the cart-abandonment pipeline run by the CLI under continuous produce load,
 *                   kill -9 at random points and restarted --cycles times, then run to the end;
 *                   outputs against an embedded run of exactly the produced events, for both
 *                   guarantees (--guarantee at-least-once|exactly-once|both)
 *   rebalance       3 CLI instances (own state dirs) leaving (SIGTERM) and joining at random under
 *                   load; outputs against the embedded run
 *   broker-restart  a broker of the scenario's own (never the shared one) restarted under load
 *   hostile         10k hostile records among good ones, embedded and through Kafka: every
 *                   hostile record dead-lettered with its reason, every good one accounted for
 *   soak            --soak embedded: 10M events streamed through the dedupe pipeline;
 *                   --soak kafka: the cart-abandonment pipeline under load for --seconds
 *
 * Options: --rate <events/s> (default 1000), --events <max produced> (kill/rebalance, default
 * 60000), --cycles <n> (default 20), --seed <n>, --seconds <n> (kafka soak, default 3600),
 * --good <n> (hostile: good events among the 10 000 hostile ones, default 10000), --exclude
 * <class,...> (hostile: leave these classes out, e.g. far-future-timestamp, whose watermark jump
 * makes every later good event late and hides what the other classes do),
 * --keying person|source-key (default person: every event of a person in one partition, so the
 * Kafka run is comparable record for record with the embedded run; source-key: placed as
 * `tributary produce --pipeline` places them, whose cross-partition order changes identity
 * resolution, so only the events stream is compared by messageId), --keep (keep the scenario's
 * temporary directory).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { brokerRestartScenario } from './chaos/broker-restart.js';
import { hostileScenario } from './chaos/hostile-run.js';
import { killScenario } from './chaos/kill.js';
import { rebalanceScenario } from './chaos/rebalance.js';
import type { Keying } from './chaos/load.js';
import { guaranteesOf } from './chaos/scenario.js';
import { embeddedSoak, kafkaSoak } from './chaos/soak.js';

const { values: opts } = parseArgs({
  options: {
    scenario: { type: 'string' },
    soak: { type: 'string', default: 'kafka' },
    guarantee: { type: 'string', default: 'both' },
    rate: { type: 'string', default: '1000' },
    events: { type: 'string', default: '60000' },
    cycles: { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '3600' },
    keep: { type: 'boolean', default: false },
    keying: { type: 'string', default: 'person' },
    good: { type: 'string', default: '10000' },
    exclude: { type: 'string' },
  },
});

const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function brokerList(): string[] {
  const b = (process.env.KAFKA_BROKERS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (b.length === 0) throw new Error('KAFKA_BROKERS is not set: export the bootstrap list, e.g. KAFKA_BROKERS=127.0.0.1:9092');
  return b;
}

function keying(): Keying {
  if (opts.keying !== 'person' && opts.keying !== 'source-key') throw new Error(`--keying must be person or source-key, got ${opts.keying}`);
  return opts.keying;
}

/** Each guarantee's report as soon as it is there (stderr), so a long run's first half is not lost. */
function logged<T>(report: T): T {
  log(`report: ${JSON.stringify(report)}`);
  return report;
}

async function main(): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-chaos-'));
  log(`working directory ${dir}`);
  try {
    switch (opts.scenario) {
      case 'kill': {
        const out = [];
        for (const guarantee of guaranteesOf(opts.guarantee)) {
          out.push(logged(await killScenario(dir, brokerList(), { guarantee, rate: Number(opts.rate), maxEvents: Number(opts.events), cycles: Number(opts.cycles), seed: Number(opts.seed), partitions: 3, keying: keying() }, log)));
        }
        return out;
      }
      case 'rebalance': {
        const out = [];
        for (const guarantee of guaranteesOf(opts.guarantee)) {
          out.push(logged(await rebalanceScenario(dir, brokerList(), { guarantee, rate: Number(opts.rate), maxEvents: Number(opts.events), cycles: Number(opts.cycles), seed: Number(opts.seed), partitions: 3, keying: keying() }, log)));
        }
        return out;
      }
      case 'broker-restart': {
        const out = [];
        for (const guarantee of guaranteesOf(opts.guarantee)) {
          out.push(logged(await brokerRestartScenario(dir, { guarantee, rate: Number(opts.rate), maxEvents: Number(opts.events), cycles: Number(opts.cycles), seed: Number(opts.seed), partitions: 3, keying: keying() }, log)));
        }
        return out;
      }
      case 'hostile':
        return await hostileScenario(dir, process.env.KAFKA_BROKERS ? brokerList() : undefined, { good: Number(opts.good), seed: Number(opts.seed), exclude: (opts.exclude ?? '').split(',').filter(Boolean) }, log);
      case 'soak':
        return opts.soak === 'embedded'
          ? await embeddedSoak(dir, Number(opts.events === '60000' ? 10_000_000 : opts.events), log)
          : await kafkaSoak(dir, brokerList(), Number(opts.seconds), Number(opts.rate), log);
      default:
        throw new Error(`--scenario must be kill, rebalance, broker-restart, hostile or soak, got ${String(opts.scenario)}`);
    }
  } finally {
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}

main().then((report) => {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}, (error: unknown) => {
  process.stderr.write(`chaos: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
});
