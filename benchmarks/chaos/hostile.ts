/**
 * Hostile input: records built to break a parser, a store or a process — control characters
 * and lone surrogates in keys and messageIds, keys over 2 KB, JSON nested 10^5 deep, 5 MB
 * lines, invalid UTF-8, far-future and NaN timestamps, `__proto__` keys, huge numbers, CSV-ish
 * garbage, JSON that is not an object, empty lines, values that make `^(a+)+$` backtrack —
 * mixed with good events. Each record carries its class; {@link EXPECTED} says what should
 * become of each class (a dead-letter reason, or the stream a good record ends in).
 */
import type { TributaryEvent } from '../../lib/event/event.js';
import { generateEvents } from '../../lib/generate/index.js';
import { seeded } from './random.js';

/** Where a record of a class should end: a dead-letter reason, or a stream of the hostile pipeline. */
export type Outcome = { deadLetter: string } | { stream: 'events' | 'not-matching' } | { skipped: true };

/**
 * What each class becomes with this version, in the embedded run and through Kafka: a change of
 * behaviour shows as `unexpected` in the report. Update a line here when a reason changes.
 * Control characters and 3 KB values in keys and messageIds are taken by the stores as they are
 * (encoded keys); a string escape that makes a lone surrogate (no UTF-8 form: it would come back
 * from a store as U+FFFD), bytes that are not UTF-8 and timestamps more than
 * `source.maxFutureSkew` (1d) ahead of processing time are dead letters in both runtimes.
 */
const events: Outcome = { stream: 'events' };
const dead = (reason: string): { embedded: Outcome; kafka: Outcome } => ({ embedded: { deadLetter: reason }, kafka: { deadLetter: reason } });
const passes = { embedded: events, kafka: events };
export const EXPECTED: Record<string, { embedded: Outcome; kafka: Outcome }> = {
  'good': passes,
  'proto-keys': passes,
  'huge-number-value': passes,
  'huge-number-id': passes,
  'regex-bomb': { embedded: { stream: 'not-matching' }, kafka: { stream: 'not-matching' } },
  'control-char-key': passes,
  'control-char-message-id': passes,
  'lone-surrogate-key': dead('invalid-utf8'),
  'lone-surrogate-message-id': dead('invalid-utf8'),
  'long-key': passes,
  'deep-json': dead('too-deep'),
  'five-mb-line': dead('oversized'),
  'invalid-utf8': dead('invalid-utf8'),
  'far-future-timestamp': dead('future-timestamp'),
  'out-of-range-timestamp': dead('invalid-timestamp'),
  'nan-timestamp': dead('invalid-timestamp'),
  'nan-literal': dead('malformed-json'),
  'csv-garbage': dead('malformed-json'),
  'not-an-object': dead('not-an-object'),
  'empty-line': { embedded: { skipped: true }, kafka: { deadLetter: 'malformed-json' } },
  'no-key': dead('missing-key'),
};

/** How many records of each hostile class in 10 000 (the rest of the input is good events). */
export const MIX: Record<string, number> = {
  'proto-keys': 800, 'huge-number-value': 700, 'huge-number-id': 500, 'regex-bomb': 300,
  'control-char-key': 1150, 'control-char-message-id': 900, 'lone-surrogate-key': 600, 'lone-surrogate-message-id': 600,
  'long-key': 600, 'deep-json': 10, 'five-mb-line': 4, 'invalid-utf8': 1050, 'far-future-timestamp': 100,
  'out-of-range-timestamp': 300, 'nan-timestamp': 400, 'nan-literal': 200, 'csv-garbage': 700, 'not-an-object': 500,
  'empty-line': 286, 'no-key': 300,
};

export interface HostileRecord { cls: string; bytes: Buffer; messageId?: string }

const DEPTH = 100_000;

/** The record of class `cls` built from the good event `e` (its messageId made unique with `i`). */
export function hostile(cls: string, e: TributaryEvent, i: number): HostileRecord {
  const id = `hx-${i}`;
  const json = (v: unknown, messageId = id): HostileRecord => ({ cls, bytes: Buffer.from(JSON.stringify(v), 'utf8'), messageId });
  const base = { ...e, messageId: id } as Record<string, unknown>;
  switch (cls) {
    case 'proto-keys': return { cls, messageId: id, bytes: Buffer.from(`{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},${JSON.stringify({ ...base, properties: { ...(e.properties ?? {}), tag: 'proto' } }).slice(1, -1)},"properties2":{"__proto__":{"isAdmin":true}}}`, 'utf8') };
    case 'huge-number-value': return { cls, messageId: id, bytes: Buffer.from(JSON.stringify({ ...base, properties: { revenue: 0 } }).replace('"revenue":0', '"revenue":1e400,"big":123456789012345678901234567890,"tiny":-1e-400'), 'utf8') };
    case 'huge-number-id': return { cls, messageId: id, bytes: Buffer.from(JSON.stringify({ ...base, userId: 1 }).replace('"userId":1', '"userId":123456789012345678901234567890'), 'utf8') };
    case 'regex-bomb': return json({ ...base, properties: { q: `${'a'.repeat(40)}!` } });
    case 'control-char-key': return json({ ...base, anonymousId: `a\u0000b\u0007c\u001b[2J\r\n${i}`, userId: null });
    case 'control-char-message-id': return json({ ...base, messageId: `m\u0000\u0001\u001f-${i}` }, `m\u0000\u0001\u001f-${i}`);
    case 'lone-surrogate-key': return { cls, messageId: id, bytes: Buffer.from(JSON.stringify({ ...base, anonymousId: 'SURR', userId: null }).replace('"SURR"', `"\\ud800x${i}"`), 'utf8') };
    case 'lone-surrogate-message-id': return { cls, messageId: `\udfff-${i}`, bytes: Buffer.from(JSON.stringify(base).replace(`"${id}"`, `"\\udfff-${i}"`), 'utf8') };
    case 'long-key': return json({ ...base, anonymousId: `k${i}-${'x'.repeat(3000)}`, userId: null });
    case 'deep-json': return { cls, bytes: Buffer.from(`${'{"a":'.repeat(DEPTH)}1${'}'.repeat(DEPTH)}`, 'utf8') };
    case 'five-mb-line': return json({ ...base, properties: { blob: 'y'.repeat(5 * 1024 * 1024) } });
    case 'invalid-utf8': {
      const [head, tail] = JSON.stringify({ ...base, properties: { name: 'BAD' } }).split('BAD') as [string, string];
      return { cls, messageId: id, bytes: Buffer.concat([Buffer.from(head), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from(tail)]) };
    }
    case 'far-future-timestamp': return json({ ...base, timestamp: '2099-01-01T00:00:00Z' });
    case 'out-of-range-timestamp': return json({ ...base, timestamp: i % 2 === 0 ? '9999-12-31T23:59:59Z' : 1e300 });
    case 'nan-timestamp': return json({ ...base, timestamp: i % 2 === 0 ? 'NaN' : 'Infinity' });
    case 'nan-literal': return { cls, bytes: Buffer.from(JSON.stringify(base).replace(/"timestamp":[^,}]+/, '"timestamp":NaN'), 'utf8') };
    case 'csv-garbage': return { cls, bytes: Buffer.from(['a,b,"c""d,\tx', '2019-10-01 00:00:00 UTC,view,44600062,"unterminated', ';;;;', '"",,,"', 'event_time,event_type\x01'][i % 5]!, 'utf8') };
    case 'not-an-object': return { cls, bytes: Buffer.from(['[1,2,3]', '"a string"', '42', 'null', 'true', '[{"messageId":"x"}]'][i % 6]!, 'utf8') };
    case 'empty-line': return { cls, bytes: Buffer.from(i % 2 === 0 ? '' : '   \t ', 'utf8') };
    case 'no-key': return json({ ...base, anonymousId: null, userId: null });
    default: return json(base);
  }
}

/**
 * 10 000 hostile records (classes in {@link MIX} proportions, less the `exclude`d classes) shuffled among `good` good events
 * (generated, no late arrivals), deterministic for a seed. Yields one record at a time.
 */
export function* hostileInput(good: number, seed: number, exclude: readonly string[] = []): Generator<HostileRecord> {
  const classes: string[] = [];
  for (const [cls, n] of Object.entries(MIX)) if (!exclude.includes(cls)) for (let k = 0; k < n; k++) classes.push(cls);
  for (let k = 0; k < good; k++) classes.push('good');
  const rnd = seeded(seed);
  for (let k = classes.length - 1; k > 0; k--) {
    const j = Math.floor(rnd() * (k + 1));
    [classes[k], classes[j]] = [classes[j]!, classes[k]!];
  }
  const events = generateEvents({ events: classes.length, seed, lateRate: 0, maxDisorderMs: 20_000, duplicateRate: 0 });
  let i = 0;
  for (const cls of classes) {
    const e = events.next().value as TributaryEvent;
    yield cls === 'good' ? { cls, bytes: Buffer.from(JSON.stringify(e), 'utf8'), messageId: e.messageId } : hostile(cls, e, i);
    i++;
  }
}
