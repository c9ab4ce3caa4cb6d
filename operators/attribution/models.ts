/**
 * The attribution models of `attribution`: pure functions from a journey (the touchpoints' times,
 * in journey order, and the conversion's time and value) to one credit per touchpoint.
 *
 * Every model shares out the whole value: the credits of one model add up to the conversion's
 * value. They are full floating-point numbers, never rounded, so a sum can differ from the value
 * in its last bits (three linear thirds of 100 add up to 100.00000000000001); a value that the
 * shares divide exactly (100 over 4 touchpoints, 70 over time-decay weights 1, ½, ¼) gives exact
 * credits and an exact sum.
 *
 * - `firstTouch`: all to the first touchpoint. `lastTouch`: all to the last.
 * - `linear`: `value / n` each.
 * - `timeDecay`: weight `2^(−(t − a) / halfLife)` for a touchpoint at `a` before a conversion at
 *   `t`, credit = value × weight / Σ weights. Weights are taken relative to the newest touchpoint
 *   (its weight 1), the same shares, so very old touchpoints cannot make the sum underflow to 0.
 * - `positionBased` (U-shaped): `first` × value to the first, `last` × value to the last, and the
 *   rest (value − both) split evenly over the middle ones. With one touchpoint it gets the whole
 *   value; with two they share it as first : last (50/50 with the default 0.4 and 0.4, evenly when
 *   both are 0).
 */

/** The models, in the order records list them. */
export const MODEL_NAMES = ['firstTouch', 'lastTouch', 'linear', 'timeDecay', 'positionBased'] as const;

/** One attribution model. */
export type ModelName = (typeof MODEL_NAMES)[number];

/** The parameters of the models that have some. */
export interface ModelParams {
  halfLifeMs: number;
  position: { first: number; last: number };
}

/** All of the value to the first of `n` touchpoints. */
export function firstTouch(n: number, value: number): number[] {
  const out = new Array<number>(n).fill(0);
  if (n > 0) out[0] = value;
  return out;
}

/** All of the value to the last of `n` touchpoints. */
export function lastTouch(n: number, value: number): number[] {
  const out = new Array<number>(n).fill(0);
  if (n > 0) out[n - 1] = value;
  return out;
}

/** `value / n` to each of `n` touchpoints. */
export function linear(n: number, value: number): number[] {
  return new Array<number>(n).fill(value / n);
}

/**
 * Credits by weight `2^(−age / halfLife)`, normalised; `ages` are `t − a` per touchpoint (≥ 0).
 *
 * @example
 * ```ts
 * timeDecay([2 * DAY, DAY, 0], DAY, 70); // [10, 20, 40]
 * ```
 */
export function timeDecay(ages: readonly number[], halfLifeMs: number, value: number): number[] {
  if (ages.length === 0) return [];
  let youngest = Infinity;
  for (const age of ages) if (age < youngest) youngest = age;
  const weights = ages.map((age) => 2 ** (-(age - youngest) / halfLifeMs));
  let total = 0;
  for (const w of weights) total += w;
  return weights.map((w) => (value * w) / total);
}

/**
 * U-shaped credits over `n` touchpoints.
 *
 * @example
 * ```ts
 * positionBased(4, 100, { first: 0.4, last: 0.4 }); // [40, 10, 10, 40]
 * positionBased(2, 100, { first: 0.4, last: 0.4 }); // [50, 50]
 * ```
 */
export function positionBased(n: number, value: number, position: { first: number; last: number }): number[] {
  if (n === 0) return [];
  if (n === 1) return [value];
  const { first, last } = position;
  if (n === 2) {
    const both = first + last;
    return both === 0 ? [value / 2, value / 2] : [(value * first) / both, (value * last) / both];
  }
  const head = value * first;
  const tail = value * last;
  const middle = (value - head - tail) / (n - 2);
  const out = new Array<number>(n).fill(middle);
  out[0] = head;
  out[n - 1] = tail;
  return out;
}

/**
 * The credits of each model for a journey: touchpoints at `times` (journey order), a conversion
 * at `convertedAt` worth `value`. `result[model][i]` is touchpoint i's credit.
 */
export function credits(models: readonly ModelName[], times: readonly number[], convertedAt: number, value: number, params: ModelParams): Record<ModelName, number[]> {
  const n = times.length;
  const out = {} as Record<ModelName, number[]>;
  for (const m of models) {
    if (m === 'firstTouch') out[m] = firstTouch(n, value);
    else if (m === 'lastTouch') out[m] = lastTouch(n, value);
    else if (m === 'linear') out[m] = linear(n, value);
    else if (m === 'timeDecay') out[m] = timeDecay(times.map((a) => convertedAt - a), params.halfLifeMs, value);
    else out[m] = positionBased(n, value, params.position);
  }
  return out;
}
