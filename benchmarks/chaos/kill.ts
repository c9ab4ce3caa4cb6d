/**
 * `kill`: the cart-abandonment pipeline, run by the CLI, under continuous produce load; `cycles`
 * times SIGKILL after a random delay (during start-up, restore, rebalance or processing alike)
 * and a restart on the same state directory. Then the load stops, a bounded final run reaches
 * the end, and the outputs are compared with an embedded run over the acknowledged events.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Guarantee } from './scenario.js';
import { startLoad, type Keying, type LoadReport } from './load.js';
import { adapterFor, chaosSuffix, createSourceTopic, deleteTopicsLike, lag, pipelineCopy } from './pipeline.js';
import { between, seeded } from './random.js';
import { startRunner } from './runner.js';
import { runToEnd, verifyAgainstEmbedded, type FinalRun, type Verdict } from './verify.js';

export interface KillOptions { guarantee: Guarantee; rate: number; maxEvents: number; cycles: number; seed: number; partitions: number; keying: Keying;
  /** Bounds of the random delay before each kill, ms (default 3 000 to 25 000: start-up alone takes seconds on a busy machine). */
  killAfterMs?: [number, number] }

export interface KillReport {
  guarantee: Guarantee;
  kills: number;
  /** Kills that found the runner already gone (it exited on its own: a crash). */
  exitedBeforeKill: string[];
  /** Source lag (uncommitted records) at each kill. */
  lagAtKill: number[];
  load: LoadReport;
  final: FinalRun;
  verdict: Verdict;
}

export async function killScenario(dir: string, brokers: string[], o: KillOptions, log: (l: string) => void): Promise<KillReport> {
  const p = pipelineCopy('examples/cart-abandonment/pipeline.yaml', dir, chaosSuffix(), (def) => {
    def.guarantee = o.guarantee;
    def.source.idleTimeout = '10m';
  });
  const adapter = adapterFor(brokers);
  const rnd = seeded(o.seed);
  await createSourceTopic(adapter, p.source, o.partitions);
  try {
    const events = join(dir, `events-${p.suffix}.ndjson`);
    const load = startLoad({ brokers, topic: p.source, partitions: o.partitions, key: p.topology.source.key ?? [], rate: o.rate, seed: o.seed, maxEvents: o.maxEvents, record: events, log, keying: o.keying });
    const state = join(dir, `state-${p.suffix}`);
    const exitedBeforeKill: string[] = [];
    const lagAtKill: number[] = [];
    for (let i = 0; i < o.cycles; i++) {
      const runner = startRunner({ pipeline: p.file, brokers: brokers.join(','), stateDir: state, extra: ['--quiet'] });
      const delay = between(rnd, ...(o.killAfterMs ?? [3000, 25_000]));
      const gone = await Promise.race([sleep(delay).then(() => false), runner.exited.then(() => true)]);
      if (gone) exitedBeforeKill.push(`cycle ${i}: ${JSON.stringify(await runner.exited)} ${runner.stderr().slice(-400)}`);
      await runner.kill('SIGKILL');
      const l = await lag(adapter, p.topology.name, p.source).catch(() => -1);
      lagAtKill.push(l);
      log(`kill ${o.guarantee}: cycle ${i + 1}/${o.cycles} killed after ${delay} ms; produced ${load.produced()}, uncommitted ${l}`);
    }
    const report = await load.stop();
    log(`kill ${o.guarantee}: load stopped at ${report.produced} events; running to the end`);
    const final = runToEnd(p, brokers.join(','), state);
    log(`kill ${o.guarantee}: final run exit ${final.code} in ${final.seconds.toFixed(0)} s; comparing with the embedded run`);
    const verdict = await verifyAgainstEmbedded(adapter, p, events, dir);
    return { guarantee: o.guarantee, kills: o.cycles, exitedBeforeKill, lagAtKill, load: report, final, verdict };
  } finally {
    await deleteTopicsLike(adapter, p.suffix);
  }
}
