/**
 * Benchmark children that speak a two-line protocol on stdout: `READY` once they are ready to
 * process, then `RESULT <json>` when done. A child started with `hold` then waits for its stdin
 * to close before it exits, so the parent can still read its /proc figures.
 *
 * `startRunner` starts Tributary's Kafka runner that way (`runner-child.ts`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { list } from './common.js';

/** What a runner child (`runner-child.ts`) prints as its RESULT. */
export interface ChildResult {
  summary: {
    records: number; streams: Record<string, number>; deadLetters: Record<string, number>; late: number;
    restored: Array<{ task: string; store: string; records: number; ms: number; reason: string }>;
    commits: number; durationMs: number; eventsPerSecond: number; interrupted: boolean;
  };
  wallMs: number;
  /** Seconds spent in commits (all tasks, summed; tasks commit one after the other). */
  commitSeconds: number;
  /** User + system CPU of the runner process over the whole run, µs. */
  cpuUs: number;
  /** From onReady (tasks open, restores done) to the end. */
  afterReadyMs: number;
  readyMs: number;
  peakRss: number;
  /** Peak RSS up to onReady (so after a restore, before processing). */
  peakAtReady: number;
  heap: number;
  logs: string[];
}

export interface StartedChild<R> {
  proc: ChildProcess;
  /** Resolves at the child's READY line; rejects if it exits before. */
  ready: Promise<void>;
  /** Resolves with the child's RESULT; rejects if it exits without one. */
  done: Promise<R>;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
}

export interface ChildOptions {
  /** Keep the child until its stdin is closed (it must wait for that after its RESULT). */
  hold?: boolean;
  /** Each stderr line of the child goes here instead of to this process's stderr. */
  stderrLine?: (line: string) => void;
}

/** Starts `command args` and follows its READY/RESULT lines. */
export function startChild<R>(command: string, args: string[], opts: ChildOptions = {}): StartedChild<R> {
  const proc = spawn(command, args, { stdio: [opts.hold ? 'pipe' : 'ignore', 'pipe', opts.stderrLine ? 'pipe' : 'inherit'] });
  const onLine = opts.stderrLine;
  if (onLine && proc.stderr) {
    let err = '';
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d: string) => {
      const lines = (err + d).split('\n');
      err = lines.pop() ?? '';
      for (const l of lines) onLine(l);
    });
    proc.stderr.on('end', () => err && onLine(err));
  }
  let out = '';
  let onReady: () => void = () => undefined;
  let onResult: (r: R) => void = () => undefined;
  const ready = new Promise<void>((ok) => (onReady = ok));
  const result = new Promise<R>((ok) => (onResult = ok));
  proc.stdout?.setEncoding('utf8');
  proc.stdout?.on('data', (d: string) => {
    out += d;
    if (out.includes('READY\n')) onReady();
    const line = out.split('\n').find((l) => l.startsWith('RESULT '));
    if (line) onResult(JSON.parse(line.slice(7)) as R);
  });
  const exited = new Promise<void>((ok) => proc.once('exit', () => ok()));
  const failed = new Promise<never>((_, fail) => {
    proc.once('exit', (code, signal) => fail(new Error(`${command} child exited with ${signal ?? code} and no result`)));
  });
  failed.catch(() => undefined);
  return { proc, ready: Promise.race([ready, failed]), done: Promise.race([result, failed]), exited };
}

const runnerChild = fileURLToPath(new URL('./runner-child.js', import.meta.url));

/** Starts Tributary's Kafka runner over a pipeline file in a child process of its own. */
export function startRunner(file: string, stateDir: string, bounded: boolean, opts: ChildOptions = {}): StartedChild<ChildResult> {
  // e.g. BENCH_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the runners
  const nodeArgs = list('BENCH_CHILD_NODE_ARGS', '').flatMap((a) => a.split(/\s+/)).filter(Boolean);
  const args = [...nodeArgs, runnerChild, file, stateDir, bounded ? '1' : '0', ...(opts.hold ? ['--hold'] : [])];
  return startChild<ChildResult>(process.execPath, args, opts);
}
