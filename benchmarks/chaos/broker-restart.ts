/**
 * `broker-restart`: a broker of the scenario's own (a second KRaft broker on its own port and
 * data directory; the shared broker is never touched) restarted `cycles` times (SIGTERM, down
 * 2–8 s, started again on the same data) while the producer keeps producing and the CLI runs
 * the cart-abandonment pipeline unbounded. A runner that exits on its own is restarted and
 * counted. Then: the load stops, the runner stops, a bounded final run reaches the end, and the
 * outputs are compared with the embedded run over the acknowledged events. Sends that failed
 * while the broker was down were sent again (so the source topic may hold some events twice:
 * identical re-sends, which the pipeline's dedupe drops as the embedded run never sees them).
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startOwnBroker } from '../../test/support/own-broker.js';
import { startLoad, type Keying, type LoadReport } from './load.js';
import { adapterFor, chaosSuffix, createSourceTopic, lag, pipelineCopy } from './pipeline.js';
import { between, seeded } from './random.js';
import { startRunner, type Runner } from './runner.js';
import type { Guarantee } from './scenario.js';
import { runToEnd, verifyAgainstEmbedded, type FinalRun, type Verdict } from './verify.js';

export interface BrokerRestartOptions { guarantee: Guarantee; rate: number; maxEvents: number; cycles: number; seed: number; partitions: number; keying: Keying }

export interface BrokerRestartReport {
  guarantee: Guarantee;
  restarts: number;
  /** Runner exits while the broker was down or after (each restarted). */
  runnerExits: string[];
  load: LoadReport;
  final: FinalRun;
  verdict: Verdict;
}

export async function brokerRestartScenario(dir: string, o: BrokerRestartOptions, log: (l: string) => void): Promise<BrokerRestartReport> {
  const broker = await startOwnBroker(log);
  const brokers = [broker.brokers];
  const rnd = seeded(o.seed);
  try {
    const p = pipelineCopy('examples/cart-abandonment/pipeline.yaml', dir, chaosSuffix(), (def) => {
      def.guarantee = o.guarantee;
      def.source.idleTimeout = '10m';
    });
    const adapter = adapterFor(brokers);
    await createSourceTopic(adapter, p.source, o.partitions);
    const events = join(dir, `events-${p.suffix}.ndjson`);
    const state = join(dir, `state-${p.suffix}`);
    const load = startLoad({ brokers, topic: p.source, partitions: o.partitions, key: p.topology.source.key ?? [], rate: o.rate, seed: o.seed, maxEvents: o.maxEvents, record: events, log, keying: o.keying });
    const runnerExits: string[] = [];
    let runner: Runner | undefined;
    const start = () => {
      const r = startRunner({ pipeline: p.file, brokers: broker.brokers, stateDir: state, extra: ['--quiet'] });
      runner = r;
      void r.exited.then((e) => {
        if (runner === r) {
          runnerExits.push(`${JSON.stringify(e)} ${r.stderr().trim().split('\n').slice(-2).join(' / ')}`);
          runner = undefined;
        }
      });
    };
    start();
    for (let c = 0; c < o.cycles; c++) {
      await sleep(between(rnd, 5000, 20_000));
      await broker.stop();
      const down = between(rnd, 2000, 8000);
      log(`broker-restart ${o.guarantee}: cycle ${c + 1}/${o.cycles}: broker down for ${down} ms; produced ${load.produced()}`);
      await sleep(down);
      await broker.restart();
      if (!runner) start();
    }
    await sleep(10_000);
    const report = await load.stop();
    if (!runner) start();
    // let the runner catch up (bounded), then stop it cleanly
    for (let i = 0; i < 120 && (await lag(adapter, p.topology.name, p.source).catch(() => -1)) !== 0; i++) await sleep(2000);
    const r = runner as Runner | undefined;
    runner = undefined;
    if (r) {
      const e = await r.kill('SIGTERM');
      if (e.code !== 0) runnerExits.push(`after SIGTERM: ${JSON.stringify(e)}`);
    }
    log(`broker-restart ${o.guarantee}: load stopped at ${report.produced} events (${report.resent} sends repeated); running to the end`);
    const final = runToEnd(p, broker.brokers, state);
    const verdict = await verifyAgainstEmbedded(adapter, p, events, dir);
    return { guarantee: o.guarantee, restarts: o.cycles, runnerExits, load: report, final, verdict };
  } finally {
    await broker.close();
  }
}
