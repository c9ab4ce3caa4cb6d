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
 * - **refuse**: the last run over this very file was interrupted, and the file changed since
 *   (another size, or other bytes at its start or end): resuming would misfile records, and
 *   continuing would count what the interrupted run read twice. The user says which (restart).
 *
 * The same input: the same path, size and hash of the first and last 64 KiB. A changed
 * modification time alone (`touch`, a copy that kept the bytes) does not make another input.
 */
import type { WatermarkSnapshot } from '../time/watermark.js';

/**
 * The identity of an input file (`null`: stdin or another non-regular file, never the same input
 * twice). `sample`: a hash of the file's first and last 64 KiB, absent in checkpoints written
 * before it existed (those compare the modification time instead).
 */
export type InputIdentity = { path: string; size: number; mtimeMs: number; sample?: string } | null;

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
  | { kind: 'continue'; watermark: WatermarkSnapshot }
  | { kind: 'refuse'; message: string };

/**
 * How `now` relates to the input `before` a checkpoint was written over: the same file, another
 * one, or the same path with other contents (what changed).
 *
 * @example
 * ```ts
 * inputChange(a, { ...a, mtimeMs: a.mtimeMs + 1 });  // { kind: 'same' } (touched)
 * inputChange(a, { ...a, size: a.size + 10 });       // { kind: 'changed', what: 'its size went from … to … bytes' }
 * ```
 */
export function inputChange(before: InputIdentity, now: InputIdentity): { kind: 'same' | 'other' } | { kind: 'changed'; what: string } {
  if (before === null || now === null || before.path !== now.path) return { kind: 'other' };
  if (before.size !== now.size) return { kind: 'changed', what: `its size went from ${before.size} to ${now.size} bytes` };
  if (before.sample === undefined) {
    return before.mtimeMs === now.mtimeMs ? { kind: 'same' } : { kind: 'changed', what: 'it was modified' };
  }
  if (before.sample !== now.sample) return { kind: 'changed', what: 'its first or last 64 KiB differ' };
  return { kind: 'same' };
}

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
  if (!previous.done) {
    const change = inputChange(previous.input, input);
    if (change.kind === 'same') return { kind: 'resume', skip: previous.position, outputs: previous.outputs, watermark: previous.watermark };
    if (change.kind === 'changed') {
      return {
        kind: 'refuse',
        message: `cannot resume: ${input!.path} changed since the interrupted run over it (${change.what}); ` +
          'run again with --restart to start over, or restore the input',
      };
    }
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
