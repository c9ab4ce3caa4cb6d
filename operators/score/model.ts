/**
 * The scoring decision of `score`, as pure functions: an event and a resolved model in, a score
 * or the reason the event cannot be scored out. The step (operators/score/logic.ts) acts on it.
 */
import { getPath } from '../../lib/event/paths.js';
import type { TributaryEvent } from '../../lib/event/event.js';
import { firstLine, type ScoreFunction } from './files.js';

/** A linear or logistic model: `z = intercept + Σ w·x` over the terms in the order given. */
export interface LinearModel {
  kind: 'linear' | 'logistic';
  intercept: number;
  /** `[feature path, weight]`, in the order the coefficients were written. */
  terms: Array<[string, number]>;
}

/** A user's module exporting `score(event) → number`. */
export interface ModuleModel {
  kind: 'module';
  /** The path as written (for messages). */
  path: string;
  score: ScoreFunction;
}

export type ScoreModel = LinearModel | ModuleModel;

/** Why an event was not scored: the dead-letter reason and a one-line detail. */
export type ScoreReason = 'score-missing-feature' | 'score-invalid-feature' | 'score-error';

export type ScoreOutcome = { value: number } | { reason: ScoreReason; detail: string };

/** How a missing feature (absent or null) counts: as 0, or the event is a dead letter. */
export type MissingPolicy = 'zero' | 'dead-letter';

const show = (v: unknown): string => {
  const text = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'number' || typeof v === 'boolean' ? String(v) : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : typeof v;
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
};

/** `1 / (1 + e^−z)`, exactly as written (0 once `e^−z` overflows, below z ≈ −709). */
export function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

/**
 * The linear predictor `intercept + w₁·x₁ + w₂·x₂ + …`, summed left to right in the terms'
 * order, or why it cannot be computed.
 *
 * @example
 * ```ts
 * linearPredictor({ kind: 'linear', intercept: 1, terms: [['f.x', 2]] }, { f: { x: 3 } }, 'dead-letter'); // { value: 7 }
 * ```
 */
export function linearPredictor(model: LinearModel, event: TributaryEvent, missing: MissingPolicy): ScoreOutcome {
  let z = model.intercept;
  for (const [path, w] of model.terms) {
    const x = getPath(event, path);
    if (x === undefined || x === null) {
      if (missing === 'zero') continue;
      return { reason: 'score-missing-feature', detail: `feature ${path} is missing` };
    }
    if (typeof x !== 'number' || !Number.isFinite(x)) return { reason: 'score-invalid-feature', detail: `feature ${path} is ${show(x)}, not a finite number` };
    z += w * x;
  }
  return { value: z };
}

/**
 * The score of `event` under `model`, or why it has none: a missing or non-numeric feature, a
 * module that throws or returns anything but a finite number, a linear score that overflows.
 *
 * @example
 * ```ts
 * scoreEvent({ kind: 'logistic', intercept: 0, terms: [] }, event, 'dead-letter'); // { value: 0.5 }
 * ```
 */
export function scoreEvent(model: ScoreModel, event: TributaryEvent, missing: MissingPolicy): ScoreOutcome {
  if (model.kind === 'module') return callModule(model, event);
  const z = linearPredictor(model, event, missing);
  if (!('value' in z)) return z;
  const value = model.kind === 'logistic' ? sigmoid(z.value) : z.value;
  if (!Number.isFinite(value)) return { reason: 'score-error', detail: `the linear score is ${String(value)} (a feature times its weight overflows)` };
  return { value };
}

/** Calls the user's `score` on a copy of the event (so the module cannot change what flows on). */
function callModule(model: ModuleModel, event: TributaryEvent): ScoreOutcome {
  const score = model.score; // called as a plain function: `this` is not the model
  let value: unknown;
  try {
    value = score(structuredClone(event));
  } catch (e) {
    return { reason: 'score-error', detail: `module ${model.path} threw: ${firstLine(e)}` };
  }
  if (typeof value === 'number' && Number.isFinite(value)) return { value };
  const what = value instanceof Promise ? 'a Promise (score must be synchronous)' : typeof value === 'number' ? String(value) : show(value);
  return { reason: 'score-error', detail: `module ${model.path} returned ${what}, not a finite number` };
}
