/**
 * `mask`: PII out of the stream. `hash` replaces a field by `sha256:<hex>` of a
 * secret salt and its value (stable, so hashed ids still join and dedupe; not reversible
 * without the salt); `drop` removes fields.
 *
 * The salt comes from an environment variable, so it is never written in the pipeline file:
 * `salt: { env: NAME }`, or, without `salt`, `TRIBUTARY_MASK_SALT` (`saltEnv: NAME` is the older
 * spelling of `salt: { env: NAME }`). A step that hashes and finds no salt (the variable unset
 * or empty) is a definition error: an unsalted SHA-256 of an email or a phone number is
 * reversed by hashing a dictionary of candidates. `salt: none` hashes unsalted on purpose
 * (the same hashes as an empty salt). A step that only drops needs no salt.
 */
import { createHash } from 'node:crypto';
import type { OperatorFunction } from 'rxjs';
import type { TributaryEvent } from '../lib/event/event.js';
import { deletePath, getPath, hasPath, pathProblem, setPath } from '../lib/event/paths.js';
import { defineStatelessOperator, type OperatorLogic } from '../lib/operator/contract.js';
import { keyedOperator, type IncomingEvent, type RxWiringOptions } from '../lib/operator/rx.js';

/** Options of `mask`. */
export interface MaskOptions {
  /** Paths whose values are replaced by a salted SHA-256. */
  hash?: string[];
  /** Paths removed. */
  drop?: string[];
  /**
   * Where the salt comes from: `{ env: NAME }` (an environment variable), or `'none'` to hash
   * unsalted on purpose. Default `{ env: 'TRIBUTARY_MASK_SALT' }`; no salt found is an error.
   */
  salt?: 'none' | { env: string };
  /** The older spelling of `salt: { env: NAME }`. */
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

/** The salt a hashing step uses; throws (a definition error) when it has none and did not say `salt: none`. */
function resolveSalt(o: MaskOptions): string {
  if (o.salt !== undefined && o.saltEnv !== undefined) throw new Error('give salt or saltEnv, not both (saltEnv: NAME is the older spelling of salt: { env: NAME })');
  if (o.salt === 'none') return '';
  if (o.salt !== undefined && (typeof o.salt !== 'object' || o.salt === null || typeof o.salt.env !== 'string' || o.salt.env === '')) {
    throw new Error(`salt: ${JSON.stringify(o.salt)} must be none or { env: NAME } (the environment variable holding the salt; the salt itself is never written in the file)`);
  }
  const name = o.salt?.env ?? o.saltEnv ?? 'TRIBUTARY_MASK_SALT';
  const value = process.env[name];
  if (value !== undefined && value !== '') return value;
  const said = o.salt !== undefined || o.saltEnv !== undefined;
  throw new Error(
    `hash needs a salt, and the environment variable ${name}${said ? '' : ' (the default)'} is ${value === undefined ? 'not set' : 'empty'}: ` +
      `set it (or name another with salt: { env: NAME }), or write salt: none to hash unsalted on purpose (unsalted hashes of emails or phone numbers are reversed by hashing a dictionary)`,
  );
}

export const maskOperator = defineStatelessOperator<MaskOptions, MaskConfig>({
  name: 'mask',
  summary: 'hash (salted SHA-256) or drop PII fields',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      hash: paths,
      drop: paths,
      salt: {
        description: 'where the hash salt comes from: { env: NAME } (default { env: TRIBUTARY_MASK_SALT }; unset is an error), or none to hash unsalted on purpose',
        // none, or { env } (an object); a string other than none is refused by resolve, with the fix.
        type: ['string', 'object'],
        additionalProperties: false,
        required: ['env'],
        properties: { env: { type: 'string', minLength: 1 } },
      },
      saltEnv: { type: 'string', minLength: 1, description: 'the older spelling of salt: { env: NAME }' },
      name: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
    },
  },
  resolve(o) {
    for (const p of [...(o.hash ?? []), ...(o.drop ?? [])]) {
      const problem = pathProblem(p);
      if (problem) throw new Error(`"${p}": ${problem}`);
      if (p === 'messageId' || p === 'type' || p === 'timestamp') throw new Error(`${p} cannot be masked (every step and output needs it)`);
    }
    const hash = o.hash ?? [];
    return { hash, drop: o.drop ?? [], salt: hash.length === 0 ? '' : resolveSalt(o) };
  },
  create: (c) => new MaskLogic(c),
});

/**
 * `mask` as an RxJS operator.
 *
 * @example
 * ```ts
 * events$.pipe(maskEvents({ hash: ['traits.email'], drop: ['traits.phone'], salt: { env: 'TRIBUTARY_MASK_SALT' } }));
 * ```
 */
export function maskEvents(options: MaskOptions & RxWiringOptions): OperatorFunction<IncomingEvent, TributaryEvent> {
  return keyedOperator(maskOperator, options);
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    mask: MaskOptions;
  }
}
