/**
 * `mask`: PII out of the stream. `hash` replaces a field by `sha256:<hex>` of a
 * secret salt and its value (stable, so hashed ids still join and dedupe; not reversible
 * without the salt); `drop` removes fields. The salt comes from an environment variable
 * (`saltEnv`, default `TRIBUTARY_MASK_SALT`) so it is not written in the pipeline file; without
 * it the hash is unsalted (still stable, but guessable for small value sets such as phone
 * numbers: set a salt in production).
 */
import { createHash } from 'node:crypto';
import type { OperatorFunction } from 'rxjs';
import type { TributaryEvent } from '../lib/event/event.js';
import { deletePath, getPath, hasPath, pathProblem, setPath } from '../lib/event/paths.js';
import { defineStatelessOperator, type OperatorLogic } from '../lib/operator/contract.js';
import { keyedOperator, type RxWiringOptions } from '../lib/operator/rx.js';

/** Options of `mask`. */
export interface MaskOptions {
  /** Paths whose values are replaced by a salted SHA-256. */
  hash?: string[];
  /** Paths removed. */
  drop?: string[];
  /** Environment variable holding the salt. Default `TRIBUTARY_MASK_SALT`. */
  saltEnv?: string;
  name?: string;
}

export interface MaskConfig {
  hash: string[];
  drop: string[];
  salt: string;
}

/** The masked form of a value: `sha256:` + hex of salt, NUL, and the value (strings as is, others as JSON). */
export function maskValue(value: unknown, salt: string): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return `sha256:${createHash('sha256').update(salt).update('\u0000').update(text).digest('hex')}`;
}

/**
 * @example
 * ```ts
 * new MaskLogic({ hash: ['traits.email'], drop: ['context.ip'], salt: 's' }).process(event);
 * ```
 */
export class MaskLogic implements OperatorLogic {
  constructor(private readonly config: MaskConfig) {}

  process(input: TributaryEvent): TributaryEvent {
    const e = structuredClone(input) as TributaryEvent;
    for (const path of this.config.hash) {
      const v = getPath(e, path);
      if (v !== undefined && v !== null && hasPath(e, path)) setPath(e, path, maskValue(v, this.config.salt));
    }
    for (const path of this.config.drop) deletePath(e, path);
    return e;
  }
}

const paths = { type: 'array', items: { type: 'string', minLength: 1 } };

export const maskOperator = defineStatelessOperator<MaskOptions, MaskConfig>({
  name: 'mask',
  summary: 'hash (salted SHA-256) or drop PII fields',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { hash: paths, drop: paths, saltEnv: { type: 'string', minLength: 1 }, name: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' } },
  },
  resolve(o) {
    for (const p of [...(o.hash ?? []), ...(o.drop ?? [])]) {
      const problem = pathProblem(p);
      if (problem) throw new Error(`"${p}": ${problem}`);
      if (p === 'messageId' || p === 'type' || p === 'timestamp') throw new Error(`${p} cannot be masked (every step and output needs it)`);
    }
    return { hash: o.hash ?? [], drop: o.drop ?? [], salt: process.env[o.saltEnv ?? 'TRIBUTARY_MASK_SALT'] ?? '' };
  },
  create: (c) => new MaskLogic(c),
});

/**
 * `mask` as an RxJS operator.
 *
 * @example
 * ```ts
 * events$.pipe(maskEvents({ hash: ['traits.email'], drop: ['traits.phone'] }));
 * ```
 */
export function maskEvents(options: MaskOptions & RxWiringOptions): OperatorFunction<TributaryEvent, TributaryEvent> {
  return keyedOperator(maskOperator, options);
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    mask: MaskOptions;
  }
}
