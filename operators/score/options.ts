/**
 * The options of `score`: what a pipeline writes ({@link ScoreOptions}), its JSON schema and its
 * resolution into the {@link ScoreConfig} the logic runs on. Coefficients files and scoring
 * modules are read here, once, when the pipeline loads.
 */
import { pathProblem } from '../../lib/event/paths.js';
import { loadScoreModule, readJsonObject } from './files.js';
import type { LinearModel, MissingPolicy, ScoreModel } from './model.js';

/** A linear or logistic model: coefficients inline, or a JSON file holding `{ intercept, coefficients }`. */
export interface LinearModelOptions {
  /** `b`. Default 0. */
  intercept?: number;
  /** Feature path → weight. */
  coefficients?: Record<string, number>;
  /** A JSON file `{ "intercept": b, "coefficients": { path: w, … } }`, relative to the working directory and inside it. */
  coefficientsFile?: string;
}

/** Options of `score` as written in a pipeline: `field` and exactly one of `logistic`, `linear`, `module`. */
export interface ScoreOptions {
  /** Where the score goes on the event, a field path (e.g. `scores.churnRisk`). */
  field: string;
  /** `1 / (1 + e^−(b + Σ w·x))`. */
  logistic?: LinearModelOptions;
  /** `b + Σ w·x`. */
  linear?: LinearModelOptions;
  /** A CommonJS module exporting `score(event) → number`, relative to the working directory and inside it. Trusted code: it runs in-process. */
  module?: string;
  /** A feature that is absent or null: `dead-letter` (default, reason `score-missing-feature`) or `zero`. */
  missing?: MissingPolicy;
  /** Step name, when a pipeline has two score steps. */
  name?: string;
}

/** Resolved options. */
export interface ScoreConfig {
  field: string;
  model: ScoreModel;
  missing: MissingPolicy;
}

const NAME = '^[a-z][a-z0-9-]*$';

const modelSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    intercept: { description: 'b (default 0)', type: 'number' },
    coefficients: { description: 'feature path → weight', type: 'object', additionalProperties: { type: 'number' } },
    coefficientsFile: { description: 'JSON file { intercept, coefficients }, relative to the working directory and inside it (at most 1 MiB)', type: 'string', minLength: 1 },
  },
};

/** The JSON schema of {@link ScoreOptions}. */
export const scoreOptionsSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  required: ['field'],
  properties: {
    field: { description: 'field path the score is written to (e.g. scores.churnRisk)', type: 'string', minLength: 1 },
    logistic: { ...modelSchema, description: 'logistic model: 1 / (1 + e^-(intercept + Σ coefficient × feature))' },
    linear: { ...modelSchema, description: 'linear model: intercept + Σ coefficient × feature' },
    module: { description: 'CommonJS module exporting score(event) → number, relative to the working directory (trusted code, runs in-process)', type: 'string', minLength: 1 },
    missing: { description: 'a feature that is absent or null: dead-letter (default) or zero', enum: ['dead-letter', 'zero'] },
    name: { description: 'step name (default score)', type: 'string', pattern: NAME },
  },
};

/** Checks one model's intercept and coefficients (inline or from its file) and orders its terms. */
function linearModel(kind: 'linear' | 'logistic', o: LinearModelOptions, cwd: string): LinearModel {
  const at = kind;
  let source: { intercept?: unknown; coefficients?: unknown } = o;
  let where: string = at;
  if (o.coefficientsFile !== undefined) {
    if (o.coefficients !== undefined || o.intercept !== undefined) throw new Error(`${at}: give the intercept and coefficients inline or in coefficientsFile, not both`);
    source = readJsonObject(`${at}.coefficientsFile`, o.coefficientsFile, cwd, 'models/churn.json');
    where = `${at}.coefficientsFile ${JSON.stringify(o.coefficientsFile)}`;
  }
  const intercept = source.intercept ?? 0;
  if (typeof intercept !== 'number' || !Number.isFinite(intercept)) throw new Error(`${where}: intercept must be a finite number (e.g. -1.5)`);
  const coefficients = source.coefficients;
  if (typeof coefficients !== 'object' || coefficients === null || Array.isArray(coefficients) || Object.keys(coefficients).length === 0) {
    throw new Error(`${where}: coefficients must be an object of at least one feature path → weight (e.g. { features.frequency: 0.4 })`);
  }
  const terms: Array<[string, number]> = [];
  for (const [path, w] of Object.entries(coefficients as Record<string, unknown>)) {
    const problem = pathProblem(path);
    if (problem) throw new Error(`${where}: coefficient ${JSON.stringify(path)} is not a field path (${problem})`);
    if (typeof w !== 'number' || !Number.isFinite(w)) throw new Error(`${where}: the weight of ${path} must be a finite number`);
    terms.push([path, w]);
  }
  return { kind, intercept, terms };
}

/**
 * Validates `options` and resolves them: the model built (files read, the module loaded),
 * defaults applied. `cwd` is the directory file paths are relative to.
 */
export function resolveScoreOptions(o: ScoreOptions, cwd = process.cwd()): ScoreConfig {
  const problem = pathProblem(o.field);
  if (problem) throw new Error(`field: ${JSON.stringify(o.field)} is not a field path (${problem})`);
  const given = (['logistic', 'linear', 'module'] as const).filter((k) => o[k] !== undefined);
  if (given.length !== 1) throw new Error(`give exactly one of logistic, linear or module (got ${given.length === 0 ? 'none' : given.join(', ')})`);
  const kind = given[0] as 'logistic' | 'linear' | 'module';
  const model: ScoreModel = kind === 'module'
    ? { kind, path: o.module as string, score: loadScoreModule(o.module as string, cwd) }
    : linearModel(kind, o[kind] as LinearModelOptions, cwd);
  return { field: o.field, model, missing: o.missing ?? 'dead-letter' };
}
