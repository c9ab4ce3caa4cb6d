/**
 * `rebalance`: three CLI instances of one pipeline (one consumer group, a state directory each)
 * under continuous produce load; `cycles` times, after a random delay, a running instance
 * leaves (SIGTERM, a clean shutdown) or a stopped one joins, so partitions move and their tasks
 * restore on the new owner. At least one instance keeps running. Then the load stops, every
 * instance stops, a bounded final run (on the first instance's state) reaches the end, and the
 * outputs are compared with the embedded run over the acknowledged events.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startLoad, type Keying, type LoadReport } from './load.js';
import { adapterFor, chaosSuffix, createSourceTopic, deleteTopicsLike, lag, pipelineCopy } from './pipeline.js';
import { between, seeded } from './random.js';
import { startRunner, type Runner } from './runner.js';
import type { Guarantee } from './scenario.js';
import { runToEnd, verifyAgainstEmbedded, type FinalRun, type Verdict } from './verify.js';

export interface RebalanceOptions { guarantee: Guarantee; rate: number; maxEvents: number; cycles: number; seed: number; partitions: number; keying: Keying }

export interface RebalanceReport {
  guarantee: Guarantee;
  joins: number;
  leaves: number;
  /** Instances that exited other than by our SIGTERM with code 0 (crashes, failed shutdowns). */
  abnormalExits: string[];
  load: LoadReport;
  final: FinalRun;
  verdict: Verdict;
}

const INSTANCES = 3;

export async function rebalanceScenario(dir: string, brokers: string[], o: RebalanceOptions, log: (l: string) => void): Promise<RebalanceReport> {
  const p = pipelineCopy('examples/cart-abandonment/pipeline.yaml', dir, chaosSuffix(), (def) => {
    def.guarantee = o.guarantee;
    def.source.idleTimeout = '10m';
  });
  const adapter = adapterFor(brokers);
  const rnd = seeded(o.seed);
  await createSourceTopic(adapter, p.source, o.partitions);
  const running: Array<Runner | undefined> = new Array<Runner | undefined>(INSTANCES).fill(undefined);
  const abnormalExits: string[] = [];
  const state = (i: number) => join(dir, `state-${p.suffix}-${i}`);
  const start = (i: number) => {
    const r = startRunner({ pipeline: p.file, brokers: brokers.join(','), stateDir: state(i), extra: ['--quiet'] });
    running[i] = r;
    void r.exited.then((e) => {
      if (running[i] === r) {
        abnormalExits.push(`instance ${i} exited by itself: ${JSON.stringify(e)} ${r.stderr().slice(-400)}`);
        running[i] = undefined;
      }
    });
  };
  const stop = async (i: number) => {
    const r = running[i];
    if (!r) return;
    running[i] = undefined;
    const e = await r.kill('SIGTERM');
    if (e.code !== 0) abnormalExits.push(`instance ${i} after SIGTERM: ${JSON.stringify(e)} ${r.stderr().slice(-400)}`);
  };
  try {
    const events = join(dir, `events-${p.suffix}.ndjson`);
    const load = startLoad({ brokers, topic: p.source, partitions: o.partitions, key: p.topology.source.key ?? [], rate: o.rate, seed: o.seed, maxEvents: o.maxEvents, record: events, log, keying: o.keying });
    for (let i = 0; i < INSTANCES; i++) start(i);
    let joins = INSTANCES;
    let leaves = 0;
    for (let c = 0; c < o.cycles; c++) {
      await sleep(between(rnd, 2000, 15_000));
      const i = Math.floor(rnd() * INSTANCES);
      const up = running.filter(Boolean).length;
      if (running[i] && up > 1) {
        await stop(i);
        leaves++;
      } else if (!running[i]) {
        start(i);
        joins++;
      }
      const l = await lag(adapter, p.topology.name, p.source).catch(() => -1);
      log(`rebalance ${o.guarantee}: cycle ${c + 1}/${o.cycles}: instances up [${running.map((r) => (r ? 'x' : '-')).join('')}], produced ${load.produced()}, uncommitted ${l}`);
    }
    const report = await load.stop();
    for (let i = 0; i < INSTANCES; i++) await stop(i);
    log(`rebalance ${o.guarantee}: load stopped at ${report.produced} events, instances stopped; running to the end`);
    const final = runToEnd(p, brokers.join(','), state(0));
    log(`rebalance ${o.guarantee}: final run exit ${final.code} in ${final.seconds.toFixed(0)} s; comparing with the embedded run`);
    const verdict = await verifyAgainstEmbedded(adapter, p, events, dir);
    return { guarantee: o.guarantee, joins, leaves, abnormalExits, load: report, final, verdict };
  } finally {
    for (const r of running) await r?.kill('SIGKILL');
    await deleteTopicsLike(adapter, p.suffix);
  }
}
