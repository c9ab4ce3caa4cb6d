/**
 * Raw records (parsed JSON lines, CSV rows, decoded Avro) → canonical events.
 *
 * The steps, in order:
 * 1. The record must be a plain object, else `not-an-object`. It is never mutated; the event
 *    is a new object, but nested objects that no step touches are shared with the record.
 * 2. `fields` (canonical path ← raw path): values are **moved** — the raw field is removed.
 *    All raw values are read before anything is written, so mappings may swap fields. An absent
 *    raw field leaves the canonical field as the record had it.
 * 3. `values` translate listed values (`cart` → `add_to_cart`); the lookup uses `String(v)` of
 *    a string, number or boolean.
 * 4. `defaults` fill fields that are absent, `null` or `''`.
 * 5. `types` convert values (see {@link SourceMapping.types}); `''` on a `number`, `integer`
 *    or `boolean` field is treated as absent and removed. Failure → `invalid-field`.
 * 6. Canonical checks:
 *    - `type`: absent (or `null`/`''`) with an `event` present → `track`; absent with no event,
 *      or not one of {@link EVENT_TYPES} → `invalid-type`.
 *    - `event`: required (non-empty string) on `track` → `missing-event-name`; on other types
 *      optional. A non-string → `invalid-field`.
 *    - `userId`, `anonymousId`, `previousId`: strings or null. **Numbers become strings** (REES46
 *      `user_id` is numeric): integers as plain digits (`541312140` → `"541312140"`), others as
 *      `String(n)`. (JSON numbers beyond 2⁵³ have lost digits before they get here: send such
 *      ids as strings.) **Integral decimal text is cleaned up**: `"17850.0"` → `"17850"`
 *      (Online Retail's `CustomerID`, a float artefact); other text, e.g. `"17850.5"` or
 *      `"0042"`, is untouched. Declare the field `string` in `types` to keep text verbatim
 *      (numbers then become `String(n)`). `''` counts as absent. `userId` and
 *      `anonymousId` are always present on the event (null when absent); `previousId` only when
 *      set. Objects, arrays and booleans → `invalid-field`.
 *    - `messageId`: the record's own (a non-empty string, kept verbatim; a number is converted
 *      like an id);
 *      absent/`null`/`''` → with `messageId: 'hash'` (the default) `h-` + the first 32 hex
 *      digits (128 bits) of SHA-256 over the **raw record's** canonical JSON (keys sorted at every
 *      level, see {@link canonicalJson}) — identical rows get identical ids, whatever the
 *      mapping; with `require` → `missing-message-id`. Other types → `invalid-field`.
 *    - `timestamp`: {@link parseTimestamp} with the mapping's `timestampFormat` →
 *      `missing-timestamp` / `invalid-timestamp`; replaced by epoch ms UTC.
 *    - `properties`, `traits`, `context`: objects when present (`null` removes the field);
 *      anything else → `invalid-field`. A `null` `event` or `previousId` is removed too, so
 *      "absent" has one spelling (and Avro round trips are exact).
 * 7. With `options.key`, an event none of whose key paths holds a usable value (see
 *    {@link resolveKey}) → `missing-key`.
 *
 * Every other field passes through unchanged, after the canonical ones in the output's key order.
 *
 * Steps 2–5 live in `apply-mapping.ts` (skipped for a source without a mapping: the record is
 * read as it is), the content id in `content-id.ts`; this file holds the canonical checks.
 */
import { applyMapping, compileMappingSteps, isObject, show, validateMapping, type MappingSteps, type Obj } from './apply-mapping.js';
import { contentMessageId } from './content-id.js';
import { EVENT_TYPES } from './event.js';
import type { EventType, TributaryEvent } from './event.js';
import { resolveKey } from './key.js';
import type { RejectReason, SourceMapping } from './mapping.js';
import { pathProblem } from './paths.js';
import { parseTimestamp } from './timestamp.js';

/**
 * Outcome of {@link normalizeEvent}: the event, or the dead-letter reason with a human detail.
 *
 * @example
 * ```ts
 * const r: NormalizeResult = normalizeEvent(raw, mapping);
 * if (r.ok) emit(r.event); else deadLetter({ reason: r.reason, detail: r.detail, raw });
 * ```
 */
export type NormalizeResult =
  | { ok: true; event: TributaryEvent }
  | { ok: false; reason: RejectReason; detail: string };

/**
 * Options of {@link normalizeEvent} beyond the mapping.
 *
 * @example
 * ```ts
 * const options: NormalizeOptions = { key: ['anonymousId', 'userId'] };
 * ```
 */
export interface NormalizeOptions {
  /**
   * The source's key: a path or a list of paths on the normalised event (first usable value
   * wins, see {@link resolveKey}). When given, an event with none → `missing-key`. Left out,
   * the runner checks keys itself.
   */
  key?: string | readonly string[];
}

/**
 * A compiled normaliser: see {@link createNormalizer}.
 *
 * @example
 * ```ts
 * const normalize: Normalizer = createNormalizer(mapping, { key: 'userId' });
 * ```
 */
export type Normalizer = (raw: unknown) => NormalizeResult;

const CANONICAL_ORDER = [
  'messageId',
  'type',
  'event',
  'userId',
  'anonymousId',
  'previousId',
  'timestamp',
  'properties',
  'traits',
  'context',
] as const;
const CANONICAL = new Set<string>(CANONICAL_ORDER);
const ID_FIELDS = ['userId', 'anonymousId', 'previousId'] as const;
const OBJECT_FIELDS = ['properties', 'traits', 'context'] as const;
const INTEGRAL_DECIMAL = /^([+-]?\d+)\.0+$/;

/** An id value as a string: see the module documentation. `undefined` = absent, `false` = wrong type. */
function idString(v: unknown, verbatim: boolean): string | null | undefined | false {
  if (v === undefined || v === null || v === '') return v === undefined ? undefined : null;
  if (typeof v === 'string') {
    if (verbatim) return v;
    const m = INTEGRAL_DECIMAL.exec(v);
    return m === null ? v : (m[1] as string);
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return false;
    return Number.isInteger(v) && !verbatim ? BigInt(v).toString() : String(v);
  }
  return false;
}

interface Compiled {
  steps: MappingSteps;
  verbatim: Set<string>;
  require: boolean;
  format: NonNullable<SourceMapping['timestampFormat']>;
  key: readonly string[] | undefined;
  /** No fields, values, defaults or types: the record is read as it is, without a working copy. */
  plain: boolean;
}

function compile(mapping: SourceMapping | undefined, options: NormalizeOptions | undefined): Compiled {
  const problems = validateMapping(mapping);
  if (problems.length > 0) throw new TypeError(`invalid source mapping: ${problems.join('; ')}`);
  const m = mapping ?? {};
  const key = options?.key === undefined ? undefined : typeof options.key === 'string' ? [options.key] : options.key;
  for (const p of key ?? []) {
    const problem = pathProblem(p);
    if (problem !== undefined) throw new TypeError(`invalid key path ${JSON.stringify(p)}: ${problem}`);
  }
  const steps = compileMappingSteps(m);
  return {
    steps,
    verbatim: new Set(steps.types.filter((t) => t.type === 'string').map((t) => t.path)),
    require: m.messageId === 'require',
    format: m.timestampFormat ?? 'auto',
    key,
    plain: steps.fields.length === 0 && steps.values.length === 0 && steps.defaults.length === 0 && steps.types.length === 0,
  };
}

type Rejected = Extract<NormalizeResult, { ok: false }>;

function reject(reason: RejectReason, detail: string): Rejected {
  return { ok: false, reason, detail };
}

function run(c: Compiled, raw: unknown): NormalizeResult {
  if (!isObject(raw)) {
    return reject('not-an-object', `expected an object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`);
  }
  // Without a mapping nothing is written before the event is built: read the record itself.
  let work: Obj = raw;
  if (!c.plain) {
    const m = applyMapping(c.steps, raw);
    if (!m.ok) return reject('invalid-field', m.detail);
    work = m.work;
  }

  // 6. canonical checks
  let eventName: string | undefined;
  const ev = work.event;
  if (ev !== undefined && ev !== null && ev !== '') {
    if (typeof ev !== 'string') return reject('invalid-field', `event: ${show(ev)} is not a string`);
    eventName = ev;
  }
  let type: EventType;
  const t = work.type;
  if (t === undefined || t === null || t === '') {
    if (eventName === undefined) return reject('invalid-type', 'no type, and no event name to imply track');
    type = 'track';
  } else if (typeof t === 'string' && (EVENT_TYPES as readonly string[]).includes(t)) {
    type = t as EventType;
  } else {
    return reject('invalid-type', `type ${show(t)} is not one of ${EVENT_TYPES.join(', ')}`);
  }
  if (type === 'track' && eventName === undefined) {
    return reject('missing-event-name', `a track event needs an event name; event is ${show(ev)}`);
  }

  const ids: Record<(typeof ID_FIELDS)[number], string | null | undefined> = { userId: null, anonymousId: null, previousId: undefined };
  for (const f of ID_FIELDS) {
    const v = idString(work[f], c.verbatim.has(f));
    if (v === false) return reject('invalid-field', `${f}: ${show(work[f])} is not a string, number or null`);
    ids[f] = f === 'previousId' ? (v ?? undefined) : (v ?? null);
  }

  let messageId: string;
  const mid = work.messageId;
  if (mid === undefined || mid === null || mid === '') {
    if (c.require) return reject('missing-message-id', 'no messageId, and the source mapping says messageId: require');
    messageId = contentMessageId(raw);
  } else {
    // A string messageId is kept verbatim; a number is written as an id (integers as digits).
    const s = idString(mid, typeof mid === 'string' || c.verbatim.has('messageId'));
    if (typeof s !== 'string') return reject('invalid-field', `messageId: ${show(mid)} is not a string or number`);
    messageId = s;
  }

  const ts = parseTimestamp(work.timestamp, c.format);
  if (!ts.ok) return reject(ts.reason, ts.detail);

  const objects: Partial<Record<(typeof OBJECT_FIELDS)[number], Obj>> = {};
  for (const f of OBJECT_FIELDS) {
    const v = work[f];
    if (v === undefined || v === null) continue;
    if (!isObject(v)) return reject('invalid-field', `${f}: ${show(v)} is not an object`);
    objects[f] = v;
  }

  // Rebuild in canonical key order (for readable, stable output lines).
  const out: Obj = { messageId, type };
  if (eventName !== undefined) out.event = eventName;
  out.userId = ids.userId ?? null;
  out.anonymousId = ids.anonymousId ?? null;
  if (ids.previousId !== undefined) out.previousId = ids.previousId;
  out.timestamp = ts.ms;
  for (const f of OBJECT_FIELDS) if (objects[f] !== undefined) out[f] = objects[f];
  for (const k of Object.keys(work)) {
    if (CANONICAL.has(k)) continue;
    // An own `__proto__` key (JSON.parse makes one) must stay a plain data property.
    if (k === '__proto__') Object.defineProperty(out, k, { value: work[k], enumerable: true, writable: true, configurable: true });
    else out[k] = work[k];
  }
  const result = out as TributaryEvent;

  if (c.key !== undefined && resolveKey(result, c.key) === undefined) {
    return reject('missing-key', `none of the key fields ${c.key.join(', ')} has a value`);
  }
  return { ok: true, event: result };
}

/**
 * Compiles a mapping once (paths split and checked) into a function from raw records to
 * {@link NormalizeResult}. Throws `TypeError` for an invalid mapping (see {@link validateMapping}).
 *
 * @example
 * ```ts
 * const normalize = createNormalizer(
 *   { fields: { timestamp: 'event_time', event: 'event_type', userId: 'user_id' } },
 *   { key: ['userId'] },
 * );
 * const r = normalize({ event_time: '2019-10-01 00:00:00 UTC', event_type: 'view', user_id: '541312140' });
 * // r.ok === true; r.event.timestamp === 1569888000000; r.event.type === 'track'
 * ```
 */
export function createNormalizer(mapping?: SourceMapping, options?: NormalizeOptions): Normalizer {
  const c = compile(mapping, options);
  return (raw) => run(c, raw);
}

const compiledCache = new WeakMap<SourceMapping, Map<string, Compiled>>();
const NO_MAPPING: SourceMapping = {};

/**
 * Normalises one raw record into a {@link TributaryEvent}, or gives the dead-letter reason
 * and a detail naming the field and value. The mapping's compiled form is cached per mapping
 * object and key, so calling this per record is cheap (do not mutate a mapping after first use;
 * {@link createNormalizer} makes the compilation explicit). Throws `TypeError` only for an
 * invalid mapping.
 *
 * @example
 * ```ts
 * const r = normalizeEvent(
 *   { event_time: '2019-10-01 00:00:00 UTC', event_type: 'cart', product_id: '44600062', price: '35.79', user_id: '541312140' },
 *   {
 *     fields: { timestamp: 'event_time', event: 'event_type', userId: 'user_id',
 *               'properties.productId': 'product_id', 'properties.price': 'price' },
 *     values: { event: { cart: 'add_to_cart' } },
 *     types: { 'properties.price': 'number' },
 *   },
 * );
 * // r = { ok: true, event: { messageId: 'h-…', type: 'track', event: 'add_to_cart', userId: '541312140',
 * //       anonymousId: null, timestamp: 1569888000000, properties: { productId: '44600062', price: 35.79 } } }
 * ```
 */
export function normalizeEvent(raw: unknown, mapping: SourceMapping | undefined, options?: NormalizeOptions): NormalizeResult {
  const m = mapping ?? NO_MAPPING;
  const key = options?.key;
  const cacheKey = key === undefined ? '' : typeof key === 'string' ? `k:${key}` : `k:${key.join('\u0000')}`;
  let byKey = compiledCache.get(m);
  if (byKey === undefined) {
    byKey = new Map();
    compiledCache.set(m, byKey);
  }
  let c = byKey.get(cacheKey);
  if (c === undefined) {
    c = compile(m, options);
    if (byKey.size < 64) byKey.set(cacheKey, c);
  }
  return run(c, raw);
}
