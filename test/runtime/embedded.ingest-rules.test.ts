// No record can stop or poison a run over a file: a far-future timestamp, a stray CSV quote and
// bytes that are not UTF-8 each cost their own record only (a dead letter with its reason and
// file:line), run as a user runs the CLI.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { encodeAvroEvent, writeAvroEventFile } from '../../lib/serde/avro.js';
import { tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const readNdjson = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
const T0 = Date.UTC(2026, 0, 1);

function run(dir: string, pipeline: string, inputName: string, input: string | Buffer) {
  const pipelineFile = join(dir, 'p.yaml');
  writeFileSync(pipelineFile, pipeline);
  const inputFile = join(dir, inputName);
  writeFileSync(inputFile, input);
  const out = join(dir, 'out');
  const r = tributary(['run', pipelineFile, '--input', inputFile, '--out-dir', out, '--quiet']);
  const stream = (name: string) => readNdjson(join(out, `${name}.ndjson`));
  return { r, stream };
}

const view = (i: number, timestamp: number | string) => JSON.stringify({ messageId: `m${i}`, type: 'track', event: 'view', anonymousId: `a${i % 50}`, timestamp });

test('a far-future timestamp is a dead letter (future-timestamp) and does not move the watermark: the other 9,999 events pass', () => {
  const lines = Array.from({ length: 10_000 }, (_, i) => view(i, i === 99 ? '2099-12-31T00:00:00Z' : T0 + i * 1000));
  const pipeline = (skew: string) => `name: future\nsource:\n  key: anonymousId\n${skew}steps:\n  - dedupe: {}\n`;

  const { r, stream } = run(tempDir(), pipeline(''), 'in.ndjson', lines.join('\n') + '\n');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(stream('events').length, 9_999);
  assert.equal(stream('late').length, 0);
  const dead = stream('dead-letter');
  assert.deepEqual(dead.map((d) => [d.reason, d.source, d.raw]), [['future-timestamp', 'in.ndjson:100', lines[99]]]);
  assert.match(String(dead[0]?.detail), /^timestamp 2099-12-31T00:00:00\.000Z is more than maxFutureSkew 1d ahead of processing time \d{4}-\d\d-\d\dT[\d:.]+Z \(latest accepted: \d{4}-\d\d-\d\dT[\d:.]+Z\)$/);
  assert.match(r.stdout, /dead letters: future-timestamp 1; late: 0/);

  // A future bound wide enough to take 2099 leaves it to the time-jump bound (73 years ahead of
  // the input); all three wide give the old behaviour: the watermark jumps, the rest is late.
  const jump = run(tempDir(), pipeline('  maxFutureSkew: 36500d\n'), 'in.ndjson', lines.join('\n') + '\n');
  assert.deepEqual(jump.stream('dead-letter').map((d) => [d.reason, d.source]), [['time-jump', 'in.ndjson:100']]);
  assert.equal(jump.stream('events').length, 9_999);
  // With maxTimeJump wide too, maxFutureJump (an hour after processing time and ahead of the input) refuses it.
  const future = run(tempDir(), pipeline('  maxFutureSkew: 36500d\n  maxTimeJump: 36500d\n'), 'in.ndjson', lines.join('\n') + '\n');
  const futureDead = future.stream('dead-letter');
  assert.deepEqual(futureDead.map((d) => [d.reason, d.source]), [['time-jump', 'in.ndjson:100']]);
  assert.match(String(futureDead[0]?.detail), /^timestamp 2099-12-31T00:00:00\.000Z is more than maxFutureJump 1h after processing time /);
  assert.equal(future.stream('events').length, 9_999);
  const wide = run(tempDir(), pipeline('  maxFutureSkew: 36500d\n  maxTimeJump: 36500d\n  maxFutureJump: 36500d\n'), 'in.ndjson', lines.join('\n') + '\n');
  assert.equal(wide.r.code, 0, wide.r.stderr);
  assert.deepEqual([wide.stream('events').length, wide.stream('late').length, wide.stream('dead-letter').length], [100, 9_900, 0]);
});

test('a replay of old data with one record dated today: that record is a dead letter (time-jump), the rest of the replay passes; a real jump is taken from its 9th record on', () => {
  // January 2026, with one record dated an hour ago (within maxFutureSkew of processing time).
  const today = Date.now() - 3_600_000;
  const lines = Array.from({ length: 2_000 }, (_, i) => view(i, i === 20 ? today : T0 + i * 1000));
  // Then the data goes on 60 days later: a gap, not a stray record.
  for (let i = 2_000; i < 2_100; i++) lines.push(view(i, T0 + 60 * 86_400_000 + i * 1000));
  const pipeline = (extra: string) => `name: replay\nsource:\n  key: anonymousId\n  allowedLateness: 1m\n${extra}steps:\n  - dedupe: {}\n`;

  const { r, stream } = run(tempDir(), pipeline(''), 'in.ndjson', lines.join('\n') + '\n');
  assert.equal(r.code, 0, r.stderr);
  const dead = stream('dead-letter');
  assert.deepEqual(dead.map((d) => [d.reason, d.source]), [['time-jump', 'in.ndjson:21'], ...Array.from({ length: 8 }, (_, k) => ['time-jump', `in.ndjson:${2_001 + k}`])]);
  assert.equal(dead[0]?.raw, lines[20]);
  assert.equal(dead[0]?.detail, `timestamp ${new Date(today).toISOString()} is more than maxTimeJump 30d ahead of its input (the median of its last 15 records: ${new Date(T0 + 12_000).toISOString()})`);
  assert.equal(stream('late').length, 0);
  assert.deepEqual(stream('events').map((e) => e.messageId), lines.map((_, i) => `m${i}`).filter((_, i) => i !== 20 && (i < 2_000 || i >= 2_008)));
  assert.match(r.stdout, /dead letters: time-jump 9; late: 0/);

  // Without the bound, the record of today moves the watermark and the replay after it is late.
  const off = run(tempDir(), pipeline('  maxTimeJump: 36500d\n'), 'in.ndjson', lines.join('\n') + '\n');
  assert.deepEqual([off.stream('events').length, off.stream('late').length, off.stream('dead-letter').length], [21, 2_079, 0]);
});

test('maxFutureSkew is a duration: anything else is a definition error (exit 2, file:line:column, the fix)', () => {
  const { r } = run(tempDir(), 'name: future\nsource:\n  key: anonymousId\n  maxFutureSkew: 1 day\nsteps:\n  - dedupe: {}\n', 'in.ndjson', '');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^\S*p\.yaml:4:18 source\.maxFutureSkew: "1 day" is not a duration \(use 1d\)$/m);
});

test('CSV: source.maxRecordLines lets a quoted cell span lines; a quote still open past it costs its first line only', () => {
  const rows = [
    'id,user,desc,ts',
    `1,u1,"two${'\n'}lines",${new Date(T0 + 1000).toISOString()}`,
    `2,u2,"three${'\n'}whole${'\n'}lines",${new Date(T0 + 2000).toISOString()}`,
    `3,u3,"never closed,${new Date(T0 + 3000).toISOString()}`,
    `4,u4,a,${new Date(T0 + 4000).toISOString()}`,
    `5,u5,b,${new Date(T0 + 5000).toISOString()}`,
    `6,u6,c,${new Date(T0 + 6000).toISOString()}`,
  ];
  const pipeline = (lines: string) => [
    'name: lines', 'source:', '  format: csv', '  key: userId', '  timestamp: ts', lines,
    '  mapping: { fields: { event: desc, userId: user, messageId: id }, defaults: { type: track } }',
    'steps:', '  - dedupe: {}', '',
  ].join('\n');
  const input = rows.join('\n') + '\n';
  // Default (1): every line of a multi-line cell is a bad row of its own or a row of its own.
  const one = run(tempDir(), pipeline(''), 'in.csv', input);
  assert.equal(one.r.code, 0, one.r.stderr);
  assert.equal(one.stream('events').some((e) => String(e.event).includes('\n')), false);
  assert.deepEqual(one.stream('dead-letter').map((d) => [d.reason, d.source]).slice(0, 1), [['malformed-csv', 'in.csv:2']]);
  // Three lines: both cells come through whole; the quote never closed costs line 7 only.
  const three = run(tempDir(), pipeline('  maxRecordLines: 3'), 'in.csv', input);
  assert.equal(three.r.code, 0, three.r.stderr);
  assert.deepEqual(three.stream('events').map((e) => [e.messageId, e.event]), [['1', 'two\nlines'], ['2', 'three\nwhole\nlines'], ['4', 'a'], ['5', 'b'], ['6', 'c']]);
  assert.deepEqual(three.stream('dead-letter').map((d) => [d.reason, d.source]), [['malformed-csv', 'in.csv:7']]);
});

test('CSV: a quote left open costs its own row; 1,947 of 2,000 rows come through, the 53 others are malformed-csv with file:line', () => {
  const rows = ['id,user,desc,ts'];
  for (let i = 1; i <= 2000; i++) {
    const desc = i % 53 === 0 ? `frame 12"` : i % 37 === 0 ? `"glass star` : `item ${i}`;
    rows.push(`${i},u${i % 40},${desc},${new Date(T0 + i * 1000).toISOString()}`);
  }
  const pipeline = [
    'name: quotes', 'source:', '  format: csv', '  key: userId', '  timestamp: ts',
    '  mapping: { fields: { event: desc, userId: user, messageId: id }, defaults: { type: track } }',
    'steps:', '  - dedupe: {}', '',
  ].join('\n');
  const { r, stream } = run(tempDir(), pipeline, 'in.csv', rows.join('\n') + '\n');
  assert.equal(r.code, 0, r.stderr);
  const events = stream('events');
  assert.equal(events.length, 1947);
  assert.deepEqual(events.filter((e) => e.event === 'frame 12"').length, 37);
  const dead = stream('dead-letter');
  const expectedLines = Array.from({ length: 54 }, (_, k) => 37 * (k + 1)).filter((i) => i % 53 !== 0).map((i) => i + 1);
  assert.deepEqual(dead.map((d) => d.source), expectedLines.map((l) => `in.csv:${l}`));
  assert.ok(dead.every((d, k) => d.reason === 'malformed-csv' && d.raw === rows[expectedLines[k]! - 1]));
  assert.equal(dead[0]?.detail, 'unclosed quote: the quoted cell opened on line 38 is not closed on that line (a quoted cell cannot span lines); the next line is read as a new row');
  assert.equal(stream('late').length, 0);
});

test('bytes that are not UTF-8 make their line a dead letter (invalid-utf8, raw in base64), in NDJSON and CSV; U+FFFD written as UTF-8 passes', () => {
  const latin1 = (s: string) => Buffer.from(s, 'latin1');
  const bad = [latin1(view(2, T0 + 2000).replace('view', 'caf\u00e9')), latin1(view(5, T0 + 5000).replace('view', '\u00fcber'))];
  const ndjson = Buffer.concat([
    Buffer.from(`${view(1, T0 + 1000)}\n`), bad[0]!, Buffer.from(`\n${view(3, T0 + 3000).replace('view', '\ufffd')}\n${view(4, T0 + 4000)}\r\n`), bad[1]!, Buffer.from(`\r\n${view(6, T0 + 6000)}`),
  ]);
  const json = run(tempDir(), 'name: utf8\nsource: { key: anonymousId }\nsteps:\n  - dedupe: {}\n', 'in.ndjson', ndjson);
  assert.equal(json.r.code, 0, json.r.stderr);
  assert.deepEqual(json.stream('events').map((e) => [e.messageId, e.event]), [['m1', 'view'], ['m3', '\ufffd'], ['m4', 'view'], ['m6', 'view']]);
  assert.deepEqual(json.stream('dead-letter').map((d) => [d.reason, d.source, d.raw, d.detail]), [
    ['invalid-utf8', 'in.ndjson:2', bad[0]!.toString('base64'), "not valid UTF-8: byte 45 of the line is 0xe9 (raw is the line's bytes in base64)"],
    ['invalid-utf8', 'in.ndjson:5', bad[1]!.toString('base64'), "not valid UTF-8: byte 42 of the line is 0xfc (raw is the line's bytes in base64)"],
  ]);

  const csvBad = latin1('2,u2,caf\u00e9,2026-01-01T00:00:02Z');
  const csv = Buffer.concat([Buffer.from('id,user,desc,ts\n1,u1,view,2026-01-01T00:00:01Z\n'), csvBad, Buffer.from('\n3,u3,\u00e9t\u00e9,2026-01-01T00:00:03Z\n')]);
  const pipeline = 'name: utf8\nsource:\n  format: csv\n  key: userId\n  timestamp: ts\n  mapping: { fields: { event: desc, userId: user, messageId: id }, defaults: { type: track } }\nsteps:\n  - dedupe: {}\n';
  const c = run(tempDir(), pipeline, 'in.csv', csv);
  assert.equal(c.r.code, 0, c.r.stderr);
  assert.deepEqual(c.stream('events').map((e) => [e.messageId, e.event]), [['1', 'view'], ['3', '\u00e9t\u00e9']]);
  assert.deepEqual(c.stream('dead-letter').map((d) => [d.reason, d.source, d.raw]), [['invalid-utf8', 'in.csv:3', csvBad.toString('base64')]]);
  assert.match(c.r.stdout, /dead letters: invalid-utf8 1; late: 0/);
});

test('a record of an Avro container file with a string that is not UTF-8 is a dead letter (invalid-utf8, raw: the record in base64); a real U+FFFD passes', async () => {
  const dir = tempDir();
  const events: TributaryEvent[] = [1, 2, 3, 4].map((i) => ({ messageId: `m${i}`, type: 'track', event: i === 3 ? 'caf\uFFFD' : 'view', userId: null, anonymousId: `a${i}`, timestamp: T0 + i * 1000, properties: { note: `n${i}X` } }));
  const file = join(dir, 'clean.avro');
  await writeAvroEventFile(file, events);
  const bytes = readFileSync(file);
  // One byte of record 2's `properties.note` (`n2X`) becomes 0xff: no longer UTF-8, the same length.
  const at = bytes.indexOf('n2X') + 2;
  bytes[at] = 0xff;
  // The record as the file holds it: the event's Avro binary, with the same byte spoiled.
  const record = Buffer.from(encodeAvroEvent(events[1] as TributaryEvent));
  record[record.indexOf('n2X') + 2] = 0xff;
  const { r, stream } = run(dir, 'name: avro-utf8\nsource: { format: avro, key: anonymousId }\nsteps:\n  - dedupe: {}\n', 'in.avro', bytes);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(stream('events').map((e) => [e.messageId, e.event]), [['m1', 'view'], ['m3', 'caf\uFFFD'], ['m4', 'view']]);
  const dead = stream('dead-letter');
  assert.deepEqual(dead.map((d) => [d.reason, d.source, d.detail]), [['invalid-utf8', 'in.avro#1', 'a string holds bytes that are not UTF-8 (1 replaced by U+FFFD on decoding)']]);
  assert.deepEqual(Buffer.from(dead[0]?.raw as string, 'base64'), record, 'raw: the record, its bad byte as it was');
});

test('a JSON escape that makes a lone surrogate is a dead letter (invalid-utf8): state read back from LMDB, after a restart or through a small cache, gives the same records as memory', () => {
  // Carts abandoned by a0..a5 (a1 buys); a2's cart id is "\ud800" (twice: a duplicate), a4's a
  // well-formed pair (an emoji, escaped). Stored as UTF-8, "\ud800" would come back as U+FFFD: the
  // pending cart no longer matched when read back, the duplicate not found after a restart.
  const rec = (id: string, person: string, event: string, t: number) => `{"messageId":"${id}","type":"track","event":"${event}","anonymousId":"${person}","timestamp":${T0 + t}}`;
  const lines = [
    rec('c0', 'a0', 'add_to_cart', 0),
    rec('c1', 'a1', 'add_to_cart', 60_000),
    rec('\\ud800', 'a2', 'add_to_cart', 120_000),
    rec('c3', 'a3', 'add_to_cart', 180_000),
    rec('\\ud83d\\ude00', 'a4', 'add_to_cart', 240_000),
    rec('p1', 'a1', 'purchase', 300_000),
    rec('\\ud800', 'a2', 'add_to_cart', 120_000),
    rec('c5', 'a5', 'add_to_cart', 360_000),
    rec('v9', 'a9', 'view', 7_200_000),
  ];
  const pipeline = 'name: carts\nsource: { key: anonymousId }\nsteps:\n  - dedupe: {}\n  - trigger:\n      key: anonymousId\n      rules:\n        - name: cart-abandoned\n          absence: { first: { event: add_to_cart }, then: { event: purchase }, within: 30m }\n      output: campaign-triggers\n';
  const dir = tempDir();
  writeFileSync(join(dir, 'p.yaml'), pipeline);
  const input = (name: string, part: string[]) => {
    writeFileSync(join(dir, name), part.join('\n') + '\n');
    return join(dir, name);
  };
  const all = input('in.ndjson', lines);
  const runCli = (out: string, ...args: string[]) => {
    const r = tributary(['run', join(dir, 'p.yaml'), '--out-dir', join(dir, out), '--quiet', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return (stream: string) => readNdjson(join(dir, out, `${stream}.ndjson`));
  };

  const memory = runCli('out-memory', '--input', all);
  assert.deepEqual(memory('campaign-triggers').map((t) => [t.key, t.causes]), [['a0', ['c0']], ['a3', ['c3']], ['a4', ['\ud83d\ude00']], ['a5', ['c5']]]);
  assert.deepEqual(memory('dead-letter').map((d) => [d.reason, d.source, d.raw, d.detail]), [
    ['invalid-utf8', 'in.ndjson:3', lines[2], 'messageId holds a lone surrogate ("\\ud800"): text with no UTF-8 form'],
    ['invalid-utf8', 'in.ndjson:7', lines[6], 'messageId holds a lone surrogate ("\\ud800"): text with no UTF-8 form'],
  ]);
  assert.deepEqual(memory('events').map((e) => e.messageId), ['c0', 'c1', 'c3', '\ud83d\ude00', 'p1', 'c5', 'v9']);

  // Every value written to LMDB and read back at every record: the same records.
  const readThrough = runCli('out-read-through', '--input', all, '--checkpoint-every', '1', '--cache-mb', '0');
  for (const s of ['events', 'campaign-triggers', 'dead-letter']) assert.deepEqual(readThrough(s), memory(s), s);

  // The input in two runs over one state directory: the same records as one run.
  const state = join(dir, 'state');
  const first = runCli('out-1', '--input', input('in-1.ndjson', lines.slice(0, 4)), '--state-dir', state);
  const second = runCli('out-2', '--input', input('in-2.ndjson', lines.slice(4)), '--state-dir', state, '--final');
  for (const s of ['events', 'campaign-triggers']) assert.deepEqual([...first(s), ...second(s)], memory(s), s);
  assert.deepEqual([...first('dead-letter'), ...second('dead-letter')].map((d) => [d.reason, d.raw]), [['invalid-utf8', lines[2]], ['invalid-utf8', lines[6]]]);
});
