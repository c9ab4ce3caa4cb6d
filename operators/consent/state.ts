/**
 * The per-key state of `consent` and the functions over it. A key keeps, per channel, the
 * consent values by event time: `[time, granted]` sorted by time. A value that is in force at no
 * time a future event can have is pruned: every event still to come is at or after the watermark
 * `W` (an earlier one is late), and the consent in force at `t ≥ W` is the latest entry at or
 * before `t`, so per channel the latest entry at or before `W` and the entries after `W` are all
 * that is kept.
 */

/** One channel's consent values: `[event time, granted]`, sorted by time, one per time. */
export type ChannelHistory = Array<[number, boolean]>;

/** What the store `consent.keys` holds per key: `[channel, history]`, sorted by channel. */
export interface ConsentState {
  channels: Array<[string, ChannelHistory]>;
}

/** The consent flags an event carries, read from the event (see {@link readFlags}). */
export interface CarriedFlags {
  flags: Array<[string, boolean]>;
  /** Flags whose value is not a boolean or whose channel name is too long (ignored, counted). */
  invalid: number;
}

/**
 * The boolean flags of a consent object (`{ email: true, sms: false }`), or `undefined` when
 * `value` is absent; a value that is not an object counts as one invalid flag.
 */
export function readFlags(value: unknown): CarriedFlags | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) return { flags: [], invalid: 1 };
  const flags: Array<[string, boolean]> = [];
  let invalid = 0;
  const object = value as Record<string, unknown>;
  for (const channel in object) {
    if (!Object.hasOwn(object, channel)) continue;
    const granted = object[channel];
    if (typeof granted === 'boolean' && channel.length <= MAX_CHANNEL_LENGTH) flags.push([channel, granted]);
    else invalid++;
  }
  return { flags, invalid };
}

/** At most this many channels per key (a key's state stays far under a changelog record's 1 MB). */
export const MAX_CHANNELS = 64;
/** A channel name longer than this is not one (it is ignored, counted). */
export const MAX_CHANNEL_LENGTH = 100;

/**
 * The flags that may be recorded for a key in `state`: those of its channels, and new channels
 * while it has fewer than {@link MAX_CHANNELS}; `refused` counts the others.
 */
export function withinChannelLimit(state: ConsentState | undefined, flags: Array<[string, boolean]>): { kept: Array<[string, boolean]>; refused: number } {
  // Even if every flag named a new channel, the key would stay within the limit: all are kept.
  if ((state?.channels.length ?? 0) + flags.length <= MAX_CHANNELS) return { kept: flags, refused: 0 };
  const known = new Set((state?.channels ?? []).map(([c]) => c));
  const kept: Array<[string, boolean]> = [];
  for (const flag of flags) {
    if (!known.has(flag[0])) {
      if (known.size >= MAX_CHANNELS) continue;
      known.add(flag[0]);
    }
    kept.push(flag);
  }
  return { kept, refused: flags.length - kept.length };
}

/** Index of the first entry with time > `t` (binary search). */
function after(history: ChannelHistory, t: number): number {
  let lo = 0;
  let hi = history.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((history[mid] as [number, boolean])[0] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Records `flags` at event time `t` in `state` (an entry at the same time is replaced: ties go to
 * the later arrival) and prunes every entry no future event can see (`watermark`: see the file
 * comment). A flag restating the value in force is not recorded when that changes no answer
 * (same time, or `t` at the watermark). Returns the state to put, changed in place (a new one
 * when `state` is undefined), or `undefined` when nothing was recorded and `state` is unchanged.
 * In place because the key's value is put back in the same call (the operator's
 * `immutableState` allows that): a copy per event was a fifth of the operator's time.
 *
 * @example
 * ```ts
 * const s = record(undefined, 10, [['email', true]], -Infinity)!;
 * record(s, 5, [['email', false], ['sms', true]], -Infinity);
 * // s: { channels: [['email', [[5, false], [10, true]]], ['sms', [[5, true]]]] }
 * record(s, 10, [['email', true]], -Infinity); // undefined: the same value at the same time
 * ```
 */
export function record(state: ConsentState | undefined, t: number, flags: Array<[string, boolean]>, watermark: number): ConsentState | undefined {
  let target: ConsentState | undefined;
  for (let f = 0; f < flags.length; f++) {
    const [channel, granted] = flags[f] as [string, boolean];
    const list = (target ?? state)?.channels ?? [];
    let at = 0;
    while (at < list.length && (list[at] as [string, ChannelHistory])[0] < channel) at++;
    const history = at < list.length && (list[at] as [string, ChannelHistory])[0] === channel ? (list[at] as [string, ChannelHistory])[1] : undefined;
    const i = history === undefined ? 0 : after(history, t);
    const inForce = i > 0 ? ((history as ChannelHistory)[i - 1] as [number, boolean]) : undefined;
    // The same value again changes no answer when nothing can arrive between the two: at the same
    // time (a later arrival at it replaces either), or at the watermark (no event is earlier).
    if (inForce !== undefined && inForce[1] === granted && (inForce[0] === t || t <= watermark)) continue;
    target ??= state ?? { channels: [] };
    if (history === undefined) target.channels.splice(at, 0, [channel, [[t, granted]]]);
    else if (inForce !== undefined && inForce[0] === t) inForce[1] = granted;
    else if (i === history.length) history.push([t, granted]);
    else history.splice(i, 0, [t, granted]);
  }
  if (target === undefined) return undefined;
  for (let k = 0; k < target.channels.length; k++) {
    const history = (target.channels[k] as [string, ChannelHistory])[1];
    const keepFrom = after(history, watermark) - 1;
    if (keepFrom > 0) history.splice(0, keepFrom);
  }
  return target;
}

/**
 * The consent in force at event time `t`: per channel, the value of its latest entry at or before
 * `t`, as `[channel, granted, since]` sorted by channel; channels with none are left out.
 */
export function consentAt(state: ConsentState | undefined, t: number): Array<[string, boolean, number]> {
  const out: Array<[string, boolean, number]> = [];
  for (const [channel, history] of state?.channels ?? []) {
    const i = after(history, t);
    if (i === 0) continue;
    const [since, granted] = history[i - 1] as [number, boolean];
    out.push([channel, granted, since]);
  }
  return out;
}

/** Sets `channel` on a flags object as an own data property, whatever its name (`__proto__` too). */
function setFlag(flags: Record<string, boolean>, channel: string, granted: boolean): void {
  if (channel === '__proto__') Object.defineProperty(flags, channel, { value: granted, enumerable: true, writable: true, configurable: true });
  else flags[channel] = granted;
}

/**
 * {@link consentAt} as the flags object events carry (`{ email: true, … }`: own properties in
 * channel order, whatever the channel names), or undefined when no channel has a value at `t`.
 */
export function flagsAt(state: ConsentState | undefined, t: number): Record<string, boolean> | undefined {
  let flags: Record<string, boolean> | undefined;
  for (const [channel, history] of state?.channels ?? []) {
    const i = after(history, t);
    if (i === 0) continue;
    setFlag((flags ??= {}), channel, (history[i - 1] as [number, boolean])[1]);
  }
  return flags;
}
