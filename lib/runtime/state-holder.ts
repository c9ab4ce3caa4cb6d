/**
 * Which process holds an embedded state directory: a run writes its pid to `<state-dir>/run.pid`
 * while it lasts, so a tool that changes the state of a stopped pipeline (`tributary forget`)
 * can refuse while a run has it open. A pid file left by a run that died is ignored (no such
 * process).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PID_FILE = 'run.pid';

/** Marks `stateDir` as held by this process; the returned function releases it. */
export function holdState(stateDir: string): () => void {
  const file = join(stateDir, PID_FILE);
  writeFileSync(file, `${process.pid}\n`);
  return () => {
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
    } catch {
      // Already gone.
    }
  };
}

/** The pid of a live process holding `stateDir`, if any (this process excluded). */
export function stateHolder(stateDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(join(stateDir, PID_FILE), 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}
