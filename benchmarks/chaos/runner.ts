/**
 * A `tributary run` of the compiled CLI in a child process, as a user starts it, with its stderr
 * kept (the tail, for a report) and, optionally, the memory probe preloaded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../../dist/bin/tributary.js', import.meta.url));
const PROBE = fileURLToPath(new URL('./memory-probe.js', import.meta.url));

export interface RunnerOptions {
  pipeline: string;
  brokers: string;
  stateDir: string;
  extra?: string[];
  /** Samples the runner's memory into this NDJSON file. */
  memoryLog?: string;
  /**
   * `--session-timeout`: default 6000 ms (the broker's minimum), so the group notices a killed
   * instance within seconds; `null` leaves the CLI's default (30 s), as a user runs it.
   */
  sessionTimeoutMs?: number | null;
}

export interface Runner {
  child: ChildProcess;
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startRunner(o: RunnerOptions): Runner {
  const node = o.memoryLog ? ['--import', PROBE] : [];
  const args = [...node, BIN, 'run', o.pipeline, '--brokers', o.brokers, '--state-dir', o.stateDir,
    ...(o.sessionTimeoutMs === null ? [] : ['--session-timeout', String(o.sessionTimeoutMs ?? 6000)]), ...(o.extra ?? [])];
  const child = spawn(process.execPath, args, {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(o.memoryLog ? { CHAOS_MEMORY_LOG: o.memoryLog } : {}) },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
  child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-20_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
  return {
    child, pid: child.pid!, exited, stdout: () => out, stderr: () => err,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
