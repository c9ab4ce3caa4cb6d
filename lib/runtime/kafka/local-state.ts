/**
 * A task's local state as the task manager finds it when it opens the task: the LMDB environment
 * (rebuilt when damaged), the input offset a flushed state covers, whether that state is one
 * whole flush, and the changelog records of a restore that a close may cut short.
 */
import { rmSync } from 'node:fs';
import { isOffset } from '../../state/changelog-codec.js';
import { LmdbStoreFactory } from '../../state/engines/lmdb/env.js';
import { StateCorruptedError } from '../../state/engines/lmdb/corruption.js';
import { INPUT_META } from './committer.js';
import type { KafkaTask } from './kafka-task.js';

/**
 * The task's LMDB environment; a damaged one (truncated, garbage meta pages: the factory probes
 * the file before LMDB maps it, which would crash the process) is deleted and rebuilt from the
 * changelogs, with one warning line.
 */
export function openEnvironment(dir: string, maxDbs: number, log: (line: string) => void, task: string): LmdbStoreFactory {
  try {
    return new LmdbStoreFactory({ path: dir, maxDbs });
  } catch (error) {
    const why = error instanceof StateCorruptedError ? `${error.file} (${error.why})` : `${dir} (${error instanceof Error ? error.message : String(error)})`;
    log(`warning: task ${task}: local state unusable: ${why}; rebuilding it from the changelogs`);
    rmSync(dir, { recursive: true, force: true });
    return new LmdbStoreFactory({ path: dir, maxDbs });
  }
}

/** The input offset a task's local state covers, or undefined (none, or another partition's). */
export function localInputOffset(t: KafkaTask): string | undefined {
  try {
    const v = t.lmdb.getMeta<{ topic?: unknown; partition?: unknown; offset?: unknown }>(INPUT_META);
    if (v && v.topic === t.topic && v.partition === t.partition && isOffset(v.offset)) return v.offset;
  } catch {
    // unreadable: restore instead
  }
  return undefined;
}

/** Every store has a checkpoint within its changelog: the local state is one whole flush. */
export function stateIsWhole(t: KafkaTask, stores: string[], ends: Array<{ high: string } | undefined>): boolean {
  return stores.every((store, i) => {
    try {
      const cp = t.stores.changelogCheckpoint(store, t.partition);
      const end = ends[i];
      if (cp === undefined || cp === null) return end !== undefined && end.high === '0';
      return isOffset(cp) && end !== undefined && BigInt(cp) < BigInt(end.high);
    } catch {
      return false;
    }
  });
}

/**
 * The records of `records` until `signal` aborts: then it throws (the signal's reason), so a
 * restore reading them stops without taking the changelog as read to its end.
 */
export async function* untilAborted<T>(signal: AbortSignal, records: AsyncIterable<T>): AsyncGenerator<T> {
  signal.throwIfAborted();
  for await (const record of records) {
    signal.throwIfAborted();
    yield record;
  }
}
