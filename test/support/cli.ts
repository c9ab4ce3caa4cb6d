import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/…). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The compiled CLI, run as a user runs it. */
export const BIN = fileURLToPath(new URL('../../../dist/bin/tributary.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tributary <args>` synchronously in the repository root (`env` replaces the environment). */
export function tributary(args: string[], input?: string, env?: NodeJS.ProcessEnv): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, input, encoding: 'utf8', maxBuffer: 64 << 20, ...(env ? { env } : {}) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `tributary <args>` without waiting. */
export function tributaryAsync(args: string[]) {
  return spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A `tributary run` started with stdin open, once it announced its operations endpoint. */
export interface ServingRun {
  child: ChildProcessByStdio<Writable, Readable, Readable>;
  /** `http://127.0.0.1:<port>` */
  base: string;
  stderr(): string;
  exited: Promise<number | null>;
}

/** Starts `tributary <args>` (a run with `--metrics-port` or `--state-port`, input `-`) and waits for its endpoint line. */
export async function startServingRun(args: string[]): Promise<ServingRun> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b));
  const exited = new Promise<number | null>((ok) => child.on('exit', ok));
  // A busy machine can take seconds to start node and compile the pipeline: up to 60 s.
  for (const until = performance.now() + 60_000; performance.now() < until; ) {
    const base = /operations endpoint: (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(stderr)?.[1];
    if (base) return { child, base, stderr: () => stderr, exited };
    await new Promise((ok) => setTimeout(ok, 10));
  }
  child.kill();
  throw new Error(`no operations endpoint announced: ${stderr}`);
}
