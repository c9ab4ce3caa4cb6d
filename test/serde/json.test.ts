import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { decodeJsonRecord, DEFAULT_MAX_RECORD_BYTES, encodeJsonLine, readNdjson } from '../../lib/serde/json.js';
import type { NdjsonItem } from '../../lib/serde/json.js';

test('decodeJsonRecord: objects decode, from text or bytes', () => {
  const cases: Array<[string | Uint8Array, Record<string, unknown>]> = [
    ['{"type":"track","event":"view","n":1.5}', { type: 'track', event: 'view', n: 1.5 }],
    ['  {"a":[1,{"b":null}]}\r', { a: [1, { b: null }] }],
    ['\ufeff{"bom":true}', { bom: true }],
    [Buffer.from('{"é":"ü"}'), { é: 'ü' }],
    [new Uint8Array([0xef, 0xbb, 0xbf, ...Buffer.from('{"a":1}')]), { a: 1 }],
  ];
  for (const [input, value] of cases) assert.deepEqual(decodeJsonRecord(input), { ok: true, value });
});

test('decodeJsonRecord: each rejection has its exact reason and detail', () => {
  const cases: Array<[string | Uint8Array, string, string | RegExp, number?]> = [
    ['{"type":', 'malformed-json', /JSON/],
    ['{"a":1,}', 'malformed-json', /position 7/],
    ["{'a':1}", 'malformed-json', /position 1/],
    ['', 'malformed-json', 'empty record'],
    ['   ', 'malformed-json', 'empty record'],
    [new Uint8Array([0x7b, 0xff, 0x7d]), 'invalid-utf8', "not valid UTF-8: byte 1 of the value is 0xff (raw is the value's bytes in base64)"],
    [new Uint8Array([0x7b, 0xed, 0xa0, 0x80, 0x7d]), 'invalid-utf8', "not valid UTF-8: byte 1 of the value is 0xed (raw is the value's bytes in base64)"],
    ['[1,2]', 'not-an-object', 'expected a JSON object, got an array'],
    ['"text"', 'not-an-object', 'expected a JSON object, got a string'],
    ['42', 'not-an-object', 'expected a JSON object, got a number'],
    ['true', 'not-an-object', 'expected a JSON object, got a boolean'],
    ['null', 'not-an-object', 'expected a JSON object, got null'],
    ['{"a":"0123456789"}', 'oversized', 'record is 18 bytes, more than maxRecordBytes 10', 10],
    [Buffer.alloc(11, 0x20), 'oversized', 'record is 11 bytes, more than maxRecordBytes 10', 10],
    ['{"é":"éé"}', 'oversized', 'record is 13 bytes, more than maxRecordBytes 12', 12], // counted in UTF-8 bytes, not characters
    // Escapes that make a lone surrogate: valid JSON, no UTF-8 form (stored state would hold U+FFFD).
    ['{"messageId":"\\ud800"}', 'invalid-utf8', 'messageId holds a lone surrogate ("\\ud800"): text with no UTF-8 form'],
    ['{"a":{"b":["ok","x\\uDFFFy"]}}', 'invalid-utf8', 'a.b[1] holds a lone surrogate ("x\\udfffy"): text with no UTF-8 form'],
    ['{"p":{"\\udbff":1}}', 'invalid-utf8', 'p.\\udbff holds a lone surrogate ("\\udbff"): text with no UTF-8 form'],
    ['{"a":"\\ud83d\\ud83d\\ude00"}', 'invalid-utf8', 'a holds a lone surrogate ("\\ud83d\\ud83d\\ude00"): text with no UTF-8 form'], // a high one before a pair
    ['{"a":"\\ude00\\ud83d"}', 'invalid-utf8', /^a holds a lone surrogate/], // the halves in the wrong order
  ];
  for (const [input, reason, detail, max] of cases) {
    const r = decodeJsonRecord(input, max === undefined ? undefined : { maxRecordBytes: max });
    assert.equal(r.ok, false, String(input));
    if (r.ok) continue;
    assert.equal(r.reason, reason, String(input));
    if (typeof detail === 'string') assert.equal(r.detail, detail);
    else assert.match(r.detail, detail);
  }
  assert.equal(DEFAULT_MAX_RECORD_BYTES, 1048576);
  const big = `{"a":"${'x'.repeat(DEFAULT_MAX_RECORD_BYTES)}"}`;
  assert.equal(!decodeJsonRecord(big).ok && (decodeJsonRecord(big) as { reason: string }).reason, 'oversized');
  assert.equal(decodeJsonRecord('{"a":"é"}', { maxRecordBytes: 10 }).ok, true); // exactly 10 bytes
  // Surrogate pairs (escaped or as UTF-8), and a backslash followed by "ud800", are text as any other.
  for (const ok of ['{"a":"\\ud83d\\ude00"}', '{"a":"😀"}', '{"a":"\\\\ud800"}', '{"\\ud83d\\ude00":"\\uD83D\\uDE00x"}']) {
    const r = decodeJsonRecord(ok);
    assert.equal(r.ok, true, ok);
  }
  assert.deepEqual((decodeJsonRecord('{"a":"\\\\ud800"}') as { value: unknown }).value, { a: '\\ud800' });
});

test('encodeJsonLine writes one line per record', () => {
  assert.equal(encodeJsonLine({ messageId: 'm1', note: 'a\nb', n: 1 }), '{"messageId":"m1","note":"a\\nb","n":1}\n');
  const line = encodeJsonLine({ s: 'x\u2028y' });
  assert.equal(line.split('\n').length, 2);
  assert.deepEqual(decodeJsonRecord(line), { ok: true, value: { s: 'x\u2028y' } });
  assert.throws(() => encodeJsonLine(undefined), TypeError);
  assert.throws(() => encodeJsonLine({ n: 1n }), TypeError);
});

async function collect(it: AsyncIterable<NdjsonItem>): Promise<NdjsonItem[]> {
  const out: NdjsonItem[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('readNdjson: line numbers, blank lines, bad lines reported and reading continues', async () => {
  const text = '{"a":1}\r\n\n[1]\n{"b":\n{"c":"é"}';
  const expected: NdjsonItem[] = [
    { ok: true, value: { a: 1 }, line: 1, raw: '{"a":1}' },
    { ok: false, reason: 'not-an-object', detail: 'expected a JSON object, got an array', line: 3, raw: '[1]' },
    { ok: false, reason: 'malformed-json', detail: (decodeJsonRecord('{"b":') as { detail: string }).detail, line: 4, raw: '{"b":' },
    { ok: true, value: { c: 'é' }, line: 5, raw: '{"c":"é"}' },
  ];
  assert.deepEqual(await collect(readNdjson(text)), expected);
  // The same bytes in 1-byte chunks (splitting the UTF-8 of é) give the same items.
  const bytes = Buffer.from(text);
  const chunks = [...bytes].map((b) => Buffer.from([b]));
  assert.deepEqual(await collect(readNdjson(Readable.from(chunks))), expected);
  assert.deepEqual(await collect(readNdjson(bytes)), expected);
});

test('readNdjson: oversized lines are rejected by maxRecordBytes', async () => {
  const items = await collect(readNdjson('{"a":1}\n{"a":"long string"}\n', { maxRecordBytes: 10 }));
  assert.deepEqual(items.map((i) => (i.ok ? 'ok' : i.reason)), ['ok', 'oversized']);
});
