/**
 * `tributary forget` on a stopped embedded pipeline: the request is applied to the state a run
 * left in its state directory, with the same task and steps a resumed run opens (so the same
 * code forgets as when the request arrives in the input), then checkpointed; the audit record is
 * appended to `<out-dir>/forgotten.ndjson`. Refused while a run holds the state, and when the
 * last run was interrupted (resume it first: its outputs are cut back to its checkpoint).
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Registry } from 'prom-client';
import type { TributaryEvent } from '../event/event.js';
import { createMetrics } from '../metrics/metrics.js';
import type { SubjectIdentifier } from '../operator/forget.js';
import type { Topology } from '../pipeline/compile.js';
import { CachingStoreFactory } from '../state/caching.js';
import { LmdbStoreFactory } from '../state/engines/lmdb/env.js';
import { systemClock, type Clock } from '../time/clock.js';
import type { Checkpoint } from './continuation.js';
import { FORGOTTEN_STREAM, type ForgottenRecord } from './forget.js';
import { stateHolder } from './state-holder.js';
import { Task } from './task.js';

/** Who to forget, as the command line names them. */
export interface ForgetArgs {
  identifiers: SubjectIdentifier[];
  personIds: string[];
  requestedBy?: string;
  /** The request's id (its messageId); default a random one. */
  requestId?: string;
}

/**
 * The `forget` event of a request: `userId`/`anonymousId` as such, other identifier fields in
 * `properties.identifiers`, person ids in `properties.personIds`.
 *
 * @example
 * ```ts
 * forgetEvent({ identifiers: [{ field: 'userId', value: 'u1' }], personIds: [] }, 'r1', 0);
 * // { messageId: 'r1', type: 'forget', userId: 'u1', anonymousId: null, timestamp: 0, properties: {} }
 * ```
 */
export function forgetEvent(args: ForgetArgs, requestId: string, at: number): TributaryEvent {
  const one = (field: string) => args.identifiers.find((i) => i.field === field)?.value ?? null;
  const userId = one('userId');
  const anonymousId = one('anonymousId');
  const rest = args.identifiers.filter((i) => !(i.field === 'userId' && i.value === userId) && !(i.field === 'anonymousId' && i.value === anonymousId));
  const properties: Record<string, unknown> = {};
  if (rest.length > 0) properties.identifiers = rest;
  if (args.personIds.length > 0) properties.personIds = args.personIds;
  if (args.requestedBy !== undefined) properties.requestedBy = args.requestedBy;
  return { messageId: requestId, type: 'forget', userId, anonymousId, timestamp: at, properties };
}

/** Applies a request to a stopped pipeline's state directory; returns the audit record (also appended to `<outDir>/forgotten.ndjson`). */
export async function forgetInStateDir(options: { topology: Topology; stateDir: string; outDir: string; args: ForgetArgs; clock?: Clock }): Promise<ForgottenRecord> {
  const clock = options.clock ?? systemClock;
  const stateDir = resolve(options.stateDir);
  if (!existsSync(join(stateDir, 'data.mdb'))) throw new Error(`${options.stateDir}: no pipeline state here (an embedded run's --state-dir holds data.mdb)`);
  const holder = stateHolder(stateDir);
  if (holder !== undefined) throw new Error(`${options.stateDir}: a run (pid ${holder}) holds this state: stop it first, or send the request in its input as a forget event`);
  const lmdb = new LmdbStoreFactory({ path: stateDir });
  const stores = new CachingStoreFactory(lmdb);
  try {
    const checkpoint = stores.open<string, Checkpoint>('_meta').get('checkpoint');
    if (checkpoint && !checkpoint.done) {
      throw new Error(`${options.stateDir}: the last run over this state was interrupted: run it again to finish (or --restart), then forget`);
    }
    const records: ForgottenRecord[] = [];
    const rejected: string[] = [];
    const task = new Task({
      topology: options.topology, stores, clock, metrics: createMetrics(new Registry()),
      output: (stream, record) => {
        if (stream === FORGOTTEN_STREAM) records.push(record as ForgottenRecord);
        else if (stream === 'dead-letter') rejected.push(String(record.detail));
      },
    });
    if (checkpoint) task.restore(checkpoint.watermark);
    task.forget(forgetEvent(options.args, options.args.requestId ?? `forget-${randomUUID()}`, clock.now()));
    if (rejected.length > 0) throw new Error(`the request cannot be applied: ${rejected.join('; ')}`);
    await task.checkpoint();
    const record = records[0] as ForgottenRecord;
    mkdirSync(options.outDir, { recursive: true });
    appendFileSync(join(options.outDir, `${FORGOTTEN_STREAM}.ndjson`), `${JSON.stringify(record)}\n`);
    return record;
  } finally {
    await stores.close();
  }
}
