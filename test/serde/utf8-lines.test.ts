import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { readNdjson, type NdjsonItem } from '../../lib/serde/json.js';
import { firstInvalidUtf8, Utf8LineDecoder } from '../../lib/serde/utf8-lines.js';

test('firstInvalidUtf8: where the first byte outside a valid sequence is', () => {
  const cases: Array<[number[], number]> = [
    [[...Buffer.from('plain ascii')], -1],
    [[...Buffer.from('é ü € 😀')], -1],
    [[0x61, 0xff], 1],
    [[0x61, 0xc0, 0x80], 1], // overlong NUL
    [[0xe0, 0x80, 0x80], 0], // overlong 3-byte
    [[0xed, 0xa0, 0x80], 0], // a surrogate
    [[0xf4, 0x90, 0x80, 0x80], 0], // past U+10FFFF
    [[0x61, 0x62, 0xe2, 0x82], 2], // cut short at the end
    [[0xe2, 0x28, 0xa1], 0], // a continuation byte missing
    [[0x80], 0], // a lone continuation byte
  ];
  for (const [bytes, at] of cases) assert.equal(firstInvalidUtf8(Uint8Array.from(bytes)), at, Buffer.from(bytes).toString('hex'));
});

test('Utf8LineDecoder: whole lines at a time, the bad lines reported by index with their bytes', () => {
  const d = new Utf8LineDecoder(1 << 20);
  const first = d.push(Buffer.from([...Buffer.from('\ufeffa\nb'), 0xff, ...Buffer.from('\nc\npart')]));
  assert.equal(first.text, 'a\nb\ufffd\nc\n');
  assert.deepEqual(first.invalid?.map((l) => [l.index, Buffer.from(l.bytes).toString('hex'), l.detail]), [[1, '62ff', "not valid UTF-8: byte 1 of the line is 0xff (raw is the line's bytes in base64)"]]);
  assert.deepEqual(d.push(Buffer.from('ial\n')), { text: 'partial\n', invalid: undefined });
  assert.deepEqual(d.push(Buffer.from([0x6c, 0x61, 0x73, 0x74, 0xc3])), { text: '', invalid: undefined });
  const end = d.end();
  assert.equal(end.text, 'last\ufffd');
  assert.deepEqual(end.invalid?.map((l) => l.index), [0]);
});

test('Utf8LineDecoder: a line longer than the limit is handed on in pieces cut at whole characters', () => {
  const d = new Utf8LineDecoder(8);
  const e = Buffer.from('ééééééé'); // 14 bytes, no line end
  const piece = d.push(e.subarray(0, 11)); // ends inside the sixth é
  assert.deepEqual(piece, { text: 'ééééé', invalid: undefined });
  assert.deepEqual(d.push(Buffer.concat([e.subarray(11), Buffer.from('\nx\n')])), { text: 'éé\nx\n', invalid: undefined });
});

test('readNdjson: a line of bytes that are not UTF-8 is invalid-utf8 with its bytes in base64, in any chunking; its neighbours are read', async () => {
  const bad = Buffer.from([...Buffer.from('{"a":"caf'), 0xe9, ...Buffer.from('"}')]); // Latin-1 é
  const bytes = Buffer.concat([Buffer.from('{"a":1}\n'), bad, Buffer.from('\r\n{"a":"\ufffd"}\n\n{"a":"é"}')]);
  const expected: NdjsonItem[] = [
    { ok: true, value: { a: 1 }, line: 1, raw: '{"a":1}' },
    { ok: false, reason: 'invalid-utf8', detail: "not valid UTF-8: byte 9 of the line is 0xe9 (raw is the line's bytes in base64)", line: 2, raw: bad.toString('base64') },
    { ok: true, value: { a: '\ufffd' }, line: 3, raw: '{"a":"\ufffd"}' },
    { ok: true, value: { a: 'é' }, line: 5, raw: '{"a":"é"}' },
  ];
  const collect = async (input: Parameters<typeof readNdjson>[0]) => {
    const out: NdjsonItem[] = [];
    for await (const item of readNdjson(input)) out.push(item);
    return out;
  };
  assert.deepEqual(await collect(bytes), expected);
  for (const size of [1, 2, 3, 7, 12, bytes.length]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
    assert.deepEqual(await collect(Readable.from(chunks)), expected, `chunks of ${size}`);
  }
});

test('Utf8LineDecoder: a short first chunk is passed on at once unless it may begin a byte-order mark', () => {
  assert.deepEqual(new Utf8LineDecoder(64).push(Buffer.from('1\n')), { text: '1\n', invalid: undefined });
  const d = new Utf8LineDecoder(64);
  assert.deepEqual(d.push(Buffer.from([0xef, 0xbb])), { text: '', invalid: undefined });
  assert.deepEqual(d.push(Buffer.from([0xbf, 0x61, 0x0a])), { text: 'a\n', invalid: undefined });
});
