/**
 * Steps 2–5 of normalisation (see `normalize.ts`): a source mapping's `fields`, `values`,
 * `defaults` and `types` applied to a working copy of a raw record, copy-on-write, so the record
 * itself is never changed; and the checks that make a mapping safe to use.
 *
 * @module
 */
import { FIELD_TYPES } from './mapping.js';
import type { FieldType, SourceMapping } from './mapping.js';
import { parsePath, pathProblem } from './paths.js';

const TIMESTAMP_FORMATS = new Set(['auto', 'iso', 'epoch-ms', 'epoch-s']);
const NUMBER_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const TRUE_TEXT = new Set(['true', '1', 'yes']);
const FALSE_TEXT = new Set(['false', '0', 'no']);

/** A plain object record. */
export type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Own-property read along pre-split segments. */
export function read(obj: unknown, segs: readonly string[]): unknown {
  let cur: unknown = obj;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i] as string;
    if (!isObject(cur) || !Object.hasOwn(cur, seg)) return undefined;
    cur = cur[seg];
  }
  return cur;
}

/**
 * Copy-on-write edits: the working root and every container created or copied during this
 * normalisation are in `owned`; any other container met on a path is shallow-copied first, so
 * the caller's record is never mutated.
 */
function ownedChild(parent: Obj, seg: string, owned: Set<object>, create: boolean): Obj | undefined {
  const next = Object.hasOwn(parent, seg) ? parent[seg] : undefined;
  if (isObject(next)) {
    if (owned.has(next)) return next;
    const copy = { ...next };
    owned.add(copy);
    parent[seg] = copy;
    return copy;
  }
  if (!create) return undefined;
  const created: Obj = {};
  owned.add(created);
  parent[seg] = created;
  return created;
}

function write(root: Obj, segs: readonly string[], value: unknown, owned: Set<object>): void {
  let cur = root;
  for (let i = 0; i < segs.length - 1; i++) cur = ownedChild(cur, segs[i] as string, owned, true) as Obj;
  cur[segs[segs.length - 1] as string] = value;
}

function remove(root: Obj, segs: readonly string[], owned: Set<object>): void {
  if (!hasOwnAt(root, segs)) return;
  let cur = root;
  for (let i = 0; i < segs.length - 1; i++) {
    const next = ownedChild(cur, segs[i] as string, owned, false);
    if (next === undefined) return;
    cur = next;
  }
  delete cur[segs[segs.length - 1] as string];
}

function hasOwnAt(root: Obj, segs: readonly string[]): boolean {
  let cur: unknown = root;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i] as string;
    if (!isObject(cur) || !Object.hasOwn(cur, seg)) return false;
    cur = cur[seg];
  }
  return true;
}

/** A value as an error detail shows it. */
export function show(v: unknown): string {
  if (v === undefined) return 'absent';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

/**
 * Problems with a mapping (unsafe or empty paths, unknown types or formats), as messages;
 * empty when it is usable. {@link createNormalizer} throws on the first one.
 *
 * @example
 * ```ts
 * validateMapping({ fields: { 'a.__proto__': 'x' } });
 * // ['fields: invalid field path "a.__proto__": segment "__proto__" is not allowed']
 * ```
 */
export function validateMapping(mapping: SourceMapping | undefined): string[] {
  const problems: string[] = [];
  if (mapping === undefined) return problems;
  const checkPath = (where: string, path: string): void => {
    const p = pathProblem(path);
    if (p !== undefined) problems.push(`${where}: invalid field path ${JSON.stringify(path)}: ${p}`);
  };
  for (const [canon, rawPath] of Object.entries(mapping.fields ?? {})) {
    checkPath('fields', canon);
    if (typeof rawPath !== 'string') problems.push(`fields.${canon}: the raw path must be a string`);
    else checkPath('fields', rawPath);
  }
  for (const [canon, table] of Object.entries(mapping.values ?? {})) {
    checkPath('values', canon);
    if (!isObject(table)) problems.push(`values.${canon}: must be an object of raw value → canonical value`);
  }
  for (const canon of Object.keys(mapping.defaults ?? {})) checkPath('defaults', canon);
  for (const [canon, t] of Object.entries(mapping.types ?? {})) {
    checkPath('types', canon);
    if (!FIELD_TYPES.includes(t)) problems.push(`types.${canon}: unknown type ${JSON.stringify(t)} (expected ${FIELD_TYPES.join(', ')})`);
  }
  if (mapping.messageId !== undefined && mapping.messageId !== 'hash' && mapping.messageId !== 'require') {
    problems.push(`messageId: expected 'hash' or 'require', got ${JSON.stringify(mapping.messageId)}`);
  }
  if (mapping.timestampFormat !== undefined && !TIMESTAMP_FORMATS.has(mapping.timestampFormat)) {
    problems.push(`timestampFormat: unknown format ${JSON.stringify(mapping.timestampFormat)}`);
  }
  return problems;
}

type Coerced = { ok: true; value: unknown } | { ok: false; why: string };

function coerce(v: unknown, t: FieldType): Coerced {
  switch (t) {
    case 'string':
      if (typeof v === 'string') return { ok: true, value: v };
      if (typeof v === 'number' || typeof v === 'boolean') return { ok: true, value: String(v) };
      return { ok: false, why: 'is not a string' };
    case 'number':
    case 'integer': {
      let n: number;
      if (typeof v === 'number') n = v;
      else if (typeof v === 'string' && NUMBER_TEXT.test(v.trim())) n = Number(v.trim());
      else return { ok: false, why: `is not ${t === 'integer' ? 'an integer' : 'a number'}` };
      if (!Number.isFinite(n)) return { ok: false, why: 'is not a finite number' };
      if (t === 'integer' && !Number.isInteger(n)) return { ok: false, why: 'is not an integer' };
      return { ok: true, value: n };
    }
    case 'boolean': {
      if (typeof v === 'boolean') return { ok: true, value: v };
      if (typeof v === 'string') {
        const s = v.trim().toLowerCase();
        if (TRUE_TEXT.has(s)) return { ok: true, value: true };
        if (FALSE_TEXT.has(s)) return { ok: true, value: false };
      }
      return { ok: false, why: 'is not a boolean' };
    }
    default:
      return { ok: false, why: `has unknown type ${JSON.stringify(t)}` };
  }
}

/** A mapping's steps 2–5, paths split once. */
export interface MappingSteps {
  fields: Array<{ canon: readonly string[]; raw: readonly string[] }>;
  values: Array<{ canon: readonly string[]; table: Record<string, unknown> }>;
  defaults: Array<{ canon: readonly string[]; value: unknown }>;
  types: Array<{ path: string; canon: readonly string[]; type: FieldType }>;
}

/**
 * Splits a (valid) mapping's paths once.
 *
 * @example
 * ```ts
 * compileMappingSteps({ types: { 'properties.price': 'number' } }).types[0]!.canon; // ['properties', 'price']
 * ```
 */
export function compileMappingSteps(m: SourceMapping): MappingSteps {
  return {
    fields: Object.entries(m.fields ?? {}).map(([canon, raw]) => ({ canon: parsePath(canon), raw: parsePath(raw) })),
    values: Object.entries(m.values ?? {}).map(([canon, table]) => ({ canon: parsePath(canon), table: table as Record<string, unknown> })),
    defaults: Object.entries(m.defaults ?? {}).map(([canon, value]) => ({ canon: parsePath(canon), value })),
    types: Object.entries(m.types ?? {}).map(([path, type]) => ({ path, canon: parsePath(path), type })),
  };
}

/**
 * Steps 2–5 on a copy-on-write working copy of `raw`: the copy, or why a `types` conversion
 * failed (an `invalid-field` detail). `raw` itself is never changed.
 *
 * @example
 * ```ts
 * applyMapping(compileMappingSteps({ fields: { userId: 'user_id' } }), { user_id: 'u1' }); // { ok: true, work: { userId: 'u1' } }
 * ```
 */
export function applyMapping(c: MappingSteps, raw: Obj): { ok: true; work: Obj } | { ok: false; detail: string } {
  const work: Obj = { ...raw };
  const owned = new Set<object>([work]);

  // 2. fields: read everything first, then remove the raw fields, then write the canonical ones.
  if (c.fields.length > 0) {
    const moved: Array<[readonly string[], unknown]> = [];
    for (const f of c.fields) {
      const v = read(raw, f.raw);
      if (v !== undefined) moved.push([f.canon, v]);
    }
    for (const f of c.fields) remove(work, f.raw, owned);
    for (const [canon, v] of moved) write(work, canon, v, owned);
  }
  // 3. values
  for (const { canon, table } of c.values) {
    const v = read(work, canon);
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      const k = String(v);
      if (Object.hasOwn(table, k)) write(work, canon, table[k], owned);
    }
  }
  // 4. defaults
  for (const { canon, value } of c.defaults) {
    const v = read(work, canon);
    if (v === undefined || v === null || v === '') write(work, canon, value, owned);
  }
  // 5. types
  for (const { path, canon, type } of c.types) {
    const v = read(work, canon);
    if (v === undefined || v === null) continue;
    if (v === '' && type !== 'string') {
      remove(work, canon, owned);
      continue;
    }
    const r = coerce(v, type);
    if (!r.ok) return { ok: false, detail: `${path}: ${show(v)} ${r.why}` };
    if (r.value !== v) write(work, canon, r.value, owned);
  }
  return { ok: true, work };
}
