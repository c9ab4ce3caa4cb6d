/**
 * How an embedded run starts from what its state directory holds, and whether it closes
 * everything at the end of its input. Pure decisions: `embedded.ts` acts on them.
 *
 * - **resume**: the last run over the same input was interrupted: skip what it processed, cut
 *   the outputs back to its checkpoint, restore its watermark (the outputs equal one
 *   uninterrupted run).
 * - **continue**: the state was left open (a run that was not final, or one interrupted over
 *   another input): the new input goes on from its watermark, open timers, sessions and keys,
 *   as if it followed the previous input in one run. Outputs start empty.
 * - **fresh**: nothing to go on from (no state, or a final run closed it: its watermark was
 *   +∞, so it is not restored), the state as it is.
 * - **wipe**: the default (private) state directory of a finished or different run: start clean.
 */
import type { WatermarkSnapshot } from '../time/watermark.js';

/** The identity of an input file (`null`: stdin, never the same input twice). */
export type InputIdentity = { path: string; size: number; mtimeMs: number } | null;

/** The checkpoint record an embedded run keeps in its state directory (`_meta`/`checkpoint`). */
export interface Checkpoint {
  input: InputIdentity;
  position: number;
  outputs: Record<string, number>;
  watermark: WatermarkSnapshot;
  /** The input was read to its end. */
  done: boolean;
  /**
   * Whether the end of input closed everything (watermark +∞). Absent in checkpoints written
   * before it existed: those runs always did.
   */
  final?: boolean;
}

export type StartDecision =
  | { kind: 'fresh' }
  | { kind: 'wipe' }
  | { kind: 'resume'; skip: number; outputs: Record<string, number>; watermark: WatermarkSnapshot }
  | { kind: 'continue'; watermark: WatermarkSnapshot };

export const sameInput = (a: InputIdentity, b: InputIdentity): boolean =>
  a !== null && b !== null && a.path === b.path && a.size === b.size && a.mtimeMs === b.mtimeMs;

/**
 * How a run over `input` starts from the checkpoint `previous` found in its state directory
 * (`defaultState`: the directory is the run's private `<out-dir>/.state`).
 *
 * @example
 * ```ts
 * startOf(undefined, id, false);                                   // { kind: 'fresh' }
 * startOf({ ...cp, done: false, input: id }, id, false).kind;      // 'resume'
 * startOf({ ...cp, done: true, final: false, input: a }, b, false); // { kind: 'continue', watermark }
 * ```
 */
export function startOf(previous: Checkpoint | undefined, input: InputIdentity, defaultState: boolean): StartDecision {
  if (previous === undefined) return { kind: 'fresh' };
  if (!previous.done && sameInput(previous.input, input)) {
    return { kind: 'resume', skip: previous.position, outputs: previous.outputs, watermark: previous.watermark };
  }
  if (defaultState) return { kind: 'wipe' };
  // Interrupted over another input: its state is mid-stream at a real watermark, as a non-final end leaves it.
  if (!previous.done || previous.final === false) return { kind: 'continue', watermark: previous.watermark };
  return { kind: 'fresh' };
}

/**
 * Whether the end of input closes everything (watermark +∞: every timer fires, every session and
 * window closes, dedupe forgets every key). Default: only when the state is the run's private
 * one, thrown away afterwards; an explicit state directory is kept for the next run.
 */
export function isFinal(final: boolean | undefined, defaultState: boolean): boolean {
  return final ?? defaultState;
}
