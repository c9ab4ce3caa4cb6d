/**
 * How `streams-compare.bench.ts` measures a run, the same way for both systems, from outside the
 * child process:
 *
 * - time from the child's `READY` (Tributary: runKafka's onReady; Kafka Streams: the first
 *   RUNNING state; in both the tasks are assigned and open) to the moment the application's
 *   consumer group has committed the input's end offsets and then every repartition topic's end
 *   offsets (both runtimes commit an input offset only after what it produced is acknowledged,
 *   so every output is written by then), polled every 50 ms;
 * - CPU: user + system time of the process (all its threads) from /proc/<pid>/stat, read at
 *   READY and at that moment;
 * - peak RSS: VmHWM from /proc/<pid>/status at that moment.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { kafka } from '../kafka/common.js';
import type { StartedChild } from '../kafka/runner.js';

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}
const TICKS = clockTicks();

export interface ProcSample {
  /** User + system CPU seconds of the process so far. */
  cpu: number;
  /** Peak resident set size so far (VmHWM), bytes. */
  peakRss: number;
}

export function readProc(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpu = (Number(fields[11]) + Number(fields[12])) / TICKS;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const hwm = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  return { cpu, peakRss: Number(hwm ?? NaN) * 1024 };
}

export interface Measured<R> {
  /** READY → everything committed. */
  seconds: number;
  /** Process CPU seconds from its start to everything committed. */
  cpuTotal: number;
  /** Process CPU seconds from READY to everything committed. */
  cpuAfterReady: number;
  peakRss: number;
  /** `offsets`: the committed offsets caught up; `result`: the child finished first and they never did. */
  doneBy: 'offsets' | 'result';
  result: R;
}

/**
 * Follows a started child (READY/RESULT protocol, started with `hold`) until its group has
 * committed everything, samples it, lets it exit and returns the figures.
 */
export async function measureRun<R>(child: StartedChild<R>, group: string, source: string, events: number): Promise<Measured<R>> {
  await child.ready;
  const pid = child.proc.pid as number;
  const t0 = performance.now();
  const p0 = readProc(pid);
  let resultAt: number | undefined;
  child.done.then(() => (resultAt = performance.now()), () => undefined);
  const admin = kafka().admin();
  await admin.connect();
  let t1: number;
  let doneBy: Measured<R>['doneBy'] = 'offsets';
  try {
    let checksAfterResult = 0;
    for (;;) {
      if (await caughtUp(admin, group, source, events)) {
        t1 = performance.now();
        break;
      }
      if (child.proc.exitCode !== null || child.proc.signalCode !== null) await child.done; // throws: no result
      if (resultAt !== undefined && ++checksAfterResult > 3) {
        t1 = resultAt;
        doneBy = 'result';
        break;
      }
      await sleep(50);
    }
  } finally {
    await admin.disconnect();
  }
  const p1 = readProc(pid);
  const result = await child.done;
  child.proc.stdin?.end();
  await child.exited;
  return { seconds: (t1 - t0) / 1000, cpuTotal: p1.cpu, cpuAfterReady: p1.cpu - p0.cpu, peakRss: p1.peakRss, doneBy, result };
}

type Admin = ReturnType<ReturnType<typeof kafka>['admin']>;

/** True once `group` has committed `events` records of `source`, then the end offsets of its repartition topics. */
async function caughtUp(admin: Admin, group: string, source: string, events: number): Promise<boolean> {
  const committed = async (topic: string) => {
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return new Map((t?.partitions ?? []).map((p) => [p.partition, Math.max(0, Number(p.offset))]));
  };
  const src = await committed(source);
  if ([...src.values()].reduce((a, b) => a + b, 0) < events) return false;
  const repartition = (await admin.listTopics()).filter((t) => t.startsWith(`${group}-`) && t.endsWith('-repartition'));
  for (const topic of repartition) {
    const done = await committed(topic);
    for (const p of await admin.fetchTopicOffsets(topic)) {
      if (Number(p.high) > 0 && (done.get(p.partition) ?? 0) < Number(p.high)) return false;
    }
  }
  return true;
}
