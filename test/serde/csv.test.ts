import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { CsvHeaderError, CsvRecordReader, parseCsv, readCsv } from '../../lib/serde/csv.js';
import type { CsvItem, CsvReadOptions } from '../../lib/serde/csv.js';

async function collect(input: Parameters<typeof readCsv>[0], options?: CsvReadOptions): Promise<CsvItem[]> {
  const out: CsvItem[] = [];
  for await (const x of readCsv(input, options)) out.push(x);
  return out;
}

const TEXT = [
  '\ufeffid,name,price', // 1: header with a BOM
  '1,"Lounge sign, metal",2.10', // 2: quoted comma
  '2,short', // 3: too few columns
  '3,"two', // 4-5: a quoted newline
  'lines",4', //
  '', // 6: empty line, skipped
  '4,a,b,c', // 7: too many columns
  '5,"He said ""hi""",', // 8: escaped quotes, empty last cell
  '6,7" FRAME,1', // 9: a stray quote in an unquoted cell
  '7,last,9', // 10: no newline at the end
].join('\r\n');

const EXPECTED: CsvItem[] = [
  { ok: true, record: { id: '1', name: 'Lounge sign, metal', price: '2.10' }, line: 2, raw: '1,"Lounge sign, metal",2.10' },
  { ok: false, reason: 'malformed-csv', detail: 'expected 3 columns (as the header), got 2', line: 3, raw: '2,short' },
  { ok: true, record: { id: '3', name: 'two\r\nlines', price: '4' }, line: 4, raw: '3,"two\r\nlines",4' },
  { ok: false, reason: 'malformed-csv', detail: 'expected 3 columns (as the header), got 4', line: 7, raw: '4,a,b,c' },
  { ok: true, record: { id: '5', name: 'He said "hi"' }, line: 8, raw: '5,"He said ""hi""",' },
  { ok: true, record: { id: '6', name: '7" FRAME', price: '1' }, line: 9, raw: '6,7" FRAME,1' },
  { ok: true, record: { id: '7', name: 'last', price: '9' }, line: 10, raw: '7,last,9' },
];

const MULTI_LINE: CsvReadOptions = { maxRecordLines: 2 };

test('quoted commas, wrong column counts, BOM, multi-line cells (maxRecordLines: 2), line numbers', () => {
  assert.deepEqual(parseCsv(TEXT, MULTI_LINE), EXPECTED);
});

test('by default a quoted cell cannot span lines: each of its lines is read as a row of its own', () => {
  const items = parseCsv(TEXT);
  assert.deepEqual(items.slice(2, 4), [
    {
      ok: false, reason: 'malformed-csv', line: 4, raw: '3,"two',
      detail: 'unclosed quote: the quoted cell opened on line 4 is not closed on that line (a quoted cell cannot span lines); the next line is read as a new row',
    },
    { ok: false, reason: 'malformed-csv', detail: 'expected 3 columns (as the header), got 2', line: 5, raw: 'lines",4' },
  ]);
  assert.deepEqual([...items.slice(0, 2), ...items.slice(4)], EXPECTED.filter((i) => i.line !== 4));
});

test('the same from a stream, in any chunking (UTF-8 split across chunks too)', async () => {
  const text = TEXT.replace('Lounge', 'Lüunge');
  const expected = structuredClone(EXPECTED);
  const first = expected[0] as CsvItem & { ok: true };
  first.record.name = 'Lüunge sign, metal';
  first.raw = '1,"Lüunge sign, metal",2.10';
  const bytes = Buffer.from(text);
  for (const size of [1, 2, 3, 7, 64, bytes.length]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
    assert.deepEqual(await collect(Readable.from(chunks), MULTI_LINE), expected, `chunks of ${size}`);
  }
  assert.deepEqual(await collect(text, MULTI_LINE), expected);
  assert.deepEqual(await collect(bytes, MULTI_LINE), expected);
  assert.deepEqual(await collect([text], MULTI_LINE), expected);
});

test('empty cells are absent unless keepEmpty', () => {
  const text = 'a,b,c\n1,,3\n,,\n';
  assert.deepEqual(parseCsv(text).map((i) => i.ok && i.record), [{ a: '1', c: '3' }, {}]);
  assert.deepEqual(parseCsv(text, { keepEmpty: true }).map((i) => i.ok && i.record), [{ a: '1', b: '', c: '3' }, { a: '', b: '', c: '' }]);
  assert.deepEqual(parseCsv('a,b\n1,""\n').map((i) => i.ok && i.record), [{ a: '1' }]);
});

test('bad quoting is malformed-csv and the next rows are still read', () => {
  const text = 'a,b,c\n1,"x"y,2\n3,4,5\n6,7" ok,8\n9,10,11\n';
  const strict = parseCsv(text, { relaxQuotes: false });
  assert.deepEqual(strict.map((i) => [i.line, i.ok ? i.record.a : i.reason]), [[2, 'malformed-csv'], [3, '3'], [4, 'malformed-csv'], [5, '9']]);
  const first = strict[0] as CsvItem & { ok: false };
  assert.match(first.detail, /Invalid Closing Quote: got "y" at line 2/);
  assert.equal(first.raw, '1,"x"y,2');
  const relaxed = parseCsv(text);
  assert.deepEqual(relaxed.map((i) => i.ok && i.record.b), ['"x"y', '4', '7" ok', '10']);
});

test('an unclosed quote costs one line, not the rest of the file', () => {
  const text = 'a,b\n1,"never closed\n2,x\n3,y\n';
  assert.deepEqual(parseCsv(text), [
    {
      ok: false, reason: 'malformed-csv', line: 2, raw: '1,"never closed',
      detail: 'unclosed quote: the quoted cell opened on line 2 is not closed on that line (a quoted cell cannot span lines); the next line is read as a new row',
    },
    { ok: true, record: { a: '2', b: 'x' }, line: 3, raw: '2,x' },
    { ok: true, record: { a: '3', b: 'y' }, line: 4, raw: '3,y' },
  ]);
  // On the last line, csv-parse reports it.
  const last = parseCsv('a,b\n1,2\n3,"open');
  assert.equal(last.length, 2);
  assert.deepEqual([last[1]?.ok, last[1]?.line, !last[1]?.ok && last[1]?.reason], [false, 3, 'malformed-csv']);
  // Streaming: a quoted cell growing past maxRecordBytes over several lines is given up early.
  const reader = new CsvRecordReader({ maxRecordBytes: 20, maxRecordLines: 100 });
  const items = [...reader.push('a,b\n1,"open\n'), ...reader.push('2,two\n3,three\n4,four\n'), ...reader.end()];
  assert.deepEqual(items.map((i) => [i.line, i.ok]), [[2, false], [3, true], [4, true], [5, true]]);
});

test('oversized rows are rejected, later rows read', () => {
  const items = parseCsv(`a,b\n1,${'x'.repeat(50)}\n2,y\n`, { maxRecordBytes: 20 });
  assert.deepEqual(items.map((i) => [i.line, i.ok ? 'ok' : i.reason]), [[2, 'oversized'], [3, 'ok']]);
});

test('an oversized row arriving in pieces is not held: dropped to its line end as it arrives, one dead letter with its first 1024 characters; the rows after it are read', () => {
  const reader = new CsvRecordReader({ maxRecordBytes: 2000 });
  const piece = 'x'.repeat(1500);
  const items = [
    ...reader.push('a,b\n1,one\n2,'),
    ...reader.push(piece),
    ...reader.push(piece),
    ...reader.push(piece),
    ...reader.push(`${piece}\n3,three\n4,`),
    ...reader.push(piece),
    ...reader.push(piece),
    ...reader.end(),
  ];
  assert.deepEqual(items.map((i) => [i.line, i.ok ? i.record : i.reason, i.ok ? undefined : i.detail]), [
    [2, { a: '1', b: 'one' }, undefined],
    [3, 'oversized', 'row is more than maxRecordBytes 2000 (6002 characters); its first 1024 are kept as raw'],
    [4, { a: '3', b: 'three' }, undefined],
    [5, 'oversized', 'row is more than maxRecordBytes 2000 (3002 characters); its first 1024 are kept as raw'],
  ]);
  assert.equal((items[1] as { raw: string }).raw, `2,${'x'.repeat(1022)}`);
  // Nothing of the skipped row is held: the reader's buffer stays small.
  assert.ok(((reader as unknown as { buf: string }).buf).length < 2000);
});

test('whole-row quoting (UCI Online Retail) is rejected, or recovered with unwrapQuotedRows', () => {
  const text = 'InvoiceNo,StockCode,Description,Quantity\n"536381,82567,""AIRLINE LOUNGE,METAL SIGN"",2"\n536382,10002,GLOBE,12\n';
  const strict = parseCsv(text);
  assert.deepEqual(strict[0], {
    ok: false, reason: 'malformed-csv', detail: 'expected 4 columns (as the header), got 1', line: 2,
    raw: '"536381,82567,""AIRLINE LOUNGE,METAL SIGN"",2"',
  });
  assert.deepEqual(strict[1]?.ok && strict[1].record, { InvoiceNo: '536382', StockCode: '10002', Description: 'GLOBE', Quantity: '12' });
  const unwrapped = parseCsv(text, { unwrapQuotedRows: true });
  assert.deepEqual(unwrapped[0]?.ok && unwrapped[0].record, { InvoiceNo: '536381', StockCode: '82567', Description: 'AIRLINE LOUNGE,METAL SIGN', Quantity: '2' });
  // A single quoted cell that does not unwrap to the header's width stays rejected.
  assert.equal(parseCsv('a,b,c\n"1,2"\n', { unwrapQuotedRows: true })[0]?.ok, false);
});

test('options: delimiter, columns without a header row', () => {
  assert.deepEqual(parseCsv('a;b\n1;"x;y"\n', { delimiter: ';' }).map((i) => i.ok && i.record), [{ a: '1', b: 'x;y' }]);
  assert.deepEqual(parseCsv('1,2\n3,4\n', { columns: ['x', 'y'] }).map((i) => [i.line, i.ok && i.record]), [[1, { x: '1', y: '2' }], [2, { x: '3', y: '4' }]]);
  assert.throws(() => new CsvRecordReader({ delimiter: '"' }), TypeError);
});

test('headers: duplicates throw, empty names are numbered, __proto__ is a plain column', () => {
  assert.throws(() => parseCsv('a,a\n1,2\n'), CsvHeaderError);
  assert.deepEqual(parseCsv('a,,c\n1,2,3\n').map((i) => i.ok && i.record), [{ a: '1', column2: '2', c: '3' }]);
  const [item] = parseCsv('__proto__,b\n{x},2\n');
  assert.ok(item?.ok);
  assert.equal(Object.getPrototypeOf(item.record), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(item.record, '__proto__')?.value, '{x}');
  const reader = new CsvRecordReader();
  reader.push('x,y\r\n');
  assert.deepEqual(reader.columns, ['x', 'y']);
  assert.deepEqual(parseCsv(''), []);
  assert.deepEqual(parseCsv('a,b\n'), []);
});

test('stray quotes cost their own rows only: 2,000 rows, 53 with a quote left open, 37 with an inch mark', () => {
  const lines = ['id,desc,price'];
  for (let i = 1; i <= 2000; i++) {
    // An opening quote that never closes, and an inch mark that looks like a closing quote.
    const desc = i % 53 === 0 ? `item ${i} 12"` : i % 37 === 0 ? `"item ${i}` : `item ${i}`;
    lines.push(`${i},${desc},${i}.5`);
  }
  const items = parseCsv(`${lines.join('\n')}\n`);
  const bad = items.filter((i) => !i.ok);
  assert.equal(items.length, 2000);
  assert.deepEqual(bad.map((i) => i.line), Array.from({ length: 54 }, (_, k) => 37 * (k + 1) + 1).filter((l) => (l - 1) % 53 !== 0));
  assert.equal(bad.length, 53);
  assert.ok(bad.every((i) => !i.ok && i.reason === 'malformed-csv' && i.raw === lines[i.line - 1]));
  const good = items.filter((i) => i.ok).map((i) => i.ok && i.record);
  assert.equal(good.length, 1947);
  assert.deepEqual(good.find((r) => r && r.id === '53'), { id: '53', desc: 'item 53 12"', price: '53.5' });
  assert.ok(good.every((r) => r && r.price === `${r.id}.5`), 'no row took another row into a cell');
});

test('maxRecordLines > 1: a quoted record over several lines that does not make a row rejects its first line only', () => {
  // Line 3 opens a quote that line 5 "closes": framed together they have 4 cells, not 3.
  const text = 'id,desc,price\n1,a,1\n2,"b,2\n3,c,3\n4,d 12",x,4\n5,e,5\n';
  const items = parseCsv(text, { maxRecordLines: 5 });
  assert.deepEqual(items.map((i) => [i.line, i.ok ? i.record.id : i.reason]), [
    [2, '1'], [3, 'malformed-csv'], [4, '3'], [5, 'malformed-csv'], [6, '5'],
  ]);
  assert.equal((items[1] as CsvItem & { ok: false }).detail, 'unclosed quote: the quoted cell opened on line 3 does not make a row with the lines after it; the next line is read as a new row');
  assert.equal((items[3] as CsvItem & { ok: false }).detail, 'expected 3 columns (as the header), got 4');
  // A quote still open after maxRecordLines lines.
  const open = parseCsv('a,b\n1,"x\n2,y\n3,z\n4,w\n', { maxRecordLines: 2 });
  assert.deepEqual(open.map((i) => [i.line, i.ok]), [[2, false], [3, true], [4, true], [5, true]]);
  assert.match((open[0] as CsvItem & { ok: false }).detail, /not closed within 2 lines/);
  assert.throws(() => new CsvRecordReader({ maxRecordLines: 0 }), /maxRecordLines must be a whole number ≥ 1, got 0/);
});

test('a row whose bytes are not UTF-8 is invalid-utf8 (raw: its bytes in base64), in any chunking; the header too is checked', async () => {
  const bad = Buffer.from([0x32, 0x2c, 0x62, 0xe9, 0x74, 0x65, 0x2c, 0x32]); // 2,b\xe9te,2 (Latin-1)
  const bytes = Buffer.concat([Buffer.from('\ufeffid,name,n\r\n1,ok,1\r\n'), bad, Buffer.from('\r\n3,\ufffd is fine,3\r\n4,é,4')]);
  const expected: CsvItem[] = [
    { ok: true, record: { id: '1', name: 'ok', n: '1' }, line: 2, raw: '1,ok,1' },
    { ok: false, reason: 'invalid-utf8', detail: "not valid UTF-8: byte 3 of the line is 0xe9 (raw is the line's bytes in base64)", line: 3, raw: bad.toString('base64') },
    { ok: true, record: { id: '3', name: '\ufffd is fine', n: '3' }, line: 4, raw: '3,\ufffd is fine,3' },
    { ok: true, record: { id: '4', name: 'é', n: '4' }, line: 5, raw: '4,é,4' },
  ];
  assert.deepEqual(parseCsv(bytes), expected);
  for (const size of [1, 2, 3, 5, 16, bytes.length]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
    assert.deepEqual(await collect(Readable.from(chunks)), expected, `chunks of ${size}`);
  }
  assert.throws(() => parseCsv(Buffer.from([0x61, 0xff, 0x0a, 0x31, 0x0a])), /CSV header: line 1 is not valid UTF-8 \(not valid UTF-8: byte 1 of the line is 0xff/);
});
