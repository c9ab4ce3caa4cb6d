/**
 * Avro records nested deeper than the 256 levels a JSON record may have: a `too-deep` dead
 * letter, as a JSON record is, whether avsc can still decode them (hundreds of levels) or
 * overflows its stack on them (thousands); in a container file the records after one are read
 * as usual. And the iterative skipper that steps over such a record, held to avsc's own decoding.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { join } from 'node:path';
import { test } from 'node:test';
import avsc from 'avsc';
import type { TributaryEvent } from '../../lib/event/event.js';
import { avroEventType, decodeAvroEvent, encodeAvroEvent, readAvroEventFile, writeAvroEventFile } from '../../lib/serde/avro.js';
import { avroValueEnd, AvroTypeNotWalkable, AvroValueOverlong, AvroValueTruncated } from '../../lib/serde/avro-skip.js';
import { arrayBombAvroEvent, deepAvroEvent, zigzag } from '../support/avro-hostile.js';
import { tempDir } from '../support/tmp.js';

const T0 = Date.UTC(2026, 0, 1);
const event = (i: number, properties?: Record<string, unknown>): TributaryEvent => ({ messageId: `m${i}`, type: 'track', event: 'view', userId: null, anonymousId: `a${i}`, timestamp: T0 + i, ...(properties ? { properties } : {}) });

const long = zigzag;

/** The Avro binary of event `i` whose `properties.deep` nests `levels` maps (test/support/avro-hostile.ts). */
const deepEvent = (i: number, levels: number): Buffer => deepAvroEvent(event(i), levels);

/** A block of a {@link container}: its records, and what its header says (the count, the bytes as written). */
type Block = Buffer[] & { count?: number; data?: Buffer };

/** A container file (null codec, or deflate when a block gives its bytes) holding `blocks` of records (their Avro binaries). */
async function container(dir: string, ...blocks: Block[]): Promise<string> {
  const probe = join(dir, 'probe.avro');
  await writeAvroEventFile(probe, [event(0)], { codec: blocks.some((b) => b.data !== undefined) ? 'deflate' : 'null' });
  const bytes = readFileSync(probe);
  const headerType = avsc.Type.forSchema({
    type: 'record', name: 'org.apache.avro.file.Header',
    fields: [{ name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } }, { name: 'meta', type: { type: 'map', values: 'bytes' } }, { name: 'sync', type: { type: 'fixed', name: 'Sync', size: 16 } }],
  });
  const { value, offset } = headerType.decode(bytes, 0) as { value: { sync: Buffer }; offset: number };
  const path = join(dir, 'records.avro');
  const encoded = blocks.map((records) => {
    const data = records.data ?? Buffer.concat(records);
    return Buffer.concat([long(records.count ?? records.length), long(data.length), data, value.sync]);
  });
  writeFileSync(path, Buffer.concat([bytes.subarray(0, offset), ...encoded]));
  return path;
}

test('Avro records nested more than 256 levels are too-deep, as JSON records are; in a container file the records after one are read', async () => {
  const dir = tempDir();
  const shallow = deepEvent(2, 200);
  assert.equal(decodeAvroEvent(shallow).ok, true, '200 levels: an event');
  for (const levels of [300, 20_000]) {
    // A Kafka message: avsc decodes 300 levels (rejected after), and overflows on 20,000 (caught).
    assert.deepEqual(decodeAvroEvent(deepEvent(2, levels)), { ok: false, reason: 'too-deep', detail: 'nested more than 256 levels (objects and arrays)' }, `${levels} levels`);
    const path = await container(dir, [encodeAvroEvent(event(1)), deepEvent(2, levels), shallow, encodeAvroEvent(event(3))]);
    const items: unknown[] = [];
    for await (const item of readAvroEventFile(path)) items.push(item);
    const deep = items[1] as { ok: boolean; reason: string; raw?: string };
    assert.deepEqual(items.map((x) => { const it = x as { ok: boolean; index: number; event?: TributaryEvent; reason?: string }; return [it.index, it.ok ? it.event?.messageId : it.reason]; }), [[0, 'm1'], [1, 'too-deep'], [2, 'm2'], [3, 'm3']], `${levels} levels: the records after it are read`);
    // What avsc could not decode is handed on with its bytes.
    if (levels > 1000) assert.deepEqual(Buffer.from(deep.raw as string, 'base64'), deepEvent(2, levels));
  }
});

test('avroValueEnd ends where avsc decoding ends, at any depth, over blocks of any sign; bytes announcing more than they hold are refused', () => {
  const type = avroEventType();
  const events = [event(1), event(2, { a: [1, 2.5, 'x', null, true, { b: [] }], c: {} }), { ...event(3), userId: 'u', context: { channel: 'web' }, traits: { t: [[[1]]] } }];
  for (const bytes of [...events.map((e) => encodeAvroEvent(e)), deepEvent(4, 3), deepEvent(5, 300)]) {
    const tail = Buffer.concat([bytes, Buffer.from([0xde, 0xad])]);
    const { offset } = type.decode(tail, 0);
    assert.equal(avroValueEnd(type, tail), offset, 'the same end as a decode');
    assert.equal(avroValueEnd(type, Buffer.concat([Buffer.from([7, 7, 7]), tail]), 3), offset + 3, 'from an offset');
  }
  // 20,000 levels: avsc overflows; the skipper ends where the bytes were built to end.
  const deep = deepEvent(6, 20_000);
  assert.equal(avroValueEnd(type, Buffer.concat([deep, Buffer.from([0xde])])), deep.length);
  // Blocks with a negative count carry their byte size: stepped over whole.
  const strings = avsc.Type.forSchema({ type: 'array', items: 'string' });
  const body = Buffer.concat([long(2), long(1), Buffer.from('a'), long(2), Buffer.from('bc')]);
  const negative = Buffer.concat([long(-2), long(body.length - long(2).length), body.subarray(long(2).length), long(1), long(1), Buffer.from('d'), long(0)]);
  assert.deepEqual(strings.fromBuffer(negative), ['a', 'bc', 'd']);
  assert.equal(avroValueEnd(strings, Buffer.concat([negative, Buffer.from([9])])), negative.length);
  const entries = avsc.Type.forSchema({ type: 'map', values: 'long' });
  const map = entries.toBuffer({ a: 1, bc: -300, '': 2 ** 40 });
  assert.equal(avroValueEnd(entries, Buffer.concat([map, Buffer.from([1])])), map.length);
  // Bytes that announce more than they hold throw instead of running on.
  assert.throws(() => avroValueEnd(avsc.Type.forSchema({ type: 'array', items: 'null' }), long(2 ** 30)), AvroValueOverlong);
  // A type the walk does not know (none of avsc 5.7's) is said so, for the caller to go on without the check.
  assert.throws(() => avroValueEnd({ typeName: 'something:new' } as unknown as avsc.Type, long(1)), AvroTypeNotWalkable);
  assert.throws(() => avroValueEnd(strings, Buffer.concat([long(1), long(50), Buffer.from('short')])), AvroValueTruncated);
});


test('an Avro record announcing more array items than its bytes can hold is malformed-avro at once (avsc would build them all), as a message and in a container file', async () => {
  // properties.arr: a JsonValue array of one string item, announced as 10^9.
  const bomb = arrayBombAvroEvent(event(1), 1e9);
  // Before the bounds check this filled the heap and ended the process after ~30 s.
  assert.deepEqual(decodeAvroEvent(bomb), { ok: false, reason: 'malformed-avro', detail: `truncated: ${bomb.length} bytes are not a whole tributary.Event` });
  // In a container file: where the record ends is not known, so the rest of its block goes with
  // it (counted), and the next block is read; the indices stay the records' places in the file.
  const dir = tempDir();
  const path = await container(dir, [encodeAvroEvent(event(1)), bomb, encodeAvroEvent(event(2))], [encodeAvroEvent(event(3))]);
  const items: Array<Record<string, unknown>> = [];
  for await (const item of readAvroEventFile(path)) items.push(item as unknown as Record<string, unknown>);
  assert.deepEqual(items.map((it) => [it.index, it.ok ? (it.event as TributaryEvent).messageId : it.reason]), [[0, 'm1'], [1, 'malformed-avro'], [3, 'm3']]);
  // Read as items, the next record's bytes soon stop making sense; which fault shows first depends on them.
  assert.match(items[1]?.detail as string, /; the 1 records after it in its block could not be found and are skipped$/);
  // Items that take no bytes (a writer schema's array of nulls) are bounded by the step budget.
  const nulls = avsc.Type.forSchema({ type: 'record', name: 'N', fields: [{ name: 'xs', type: { type: 'array', items: 'null' } }] });
  assert.throws(() => avroValueEnd(nulls, Buffer.concat([long(1e9), long(0)])), AvroValueOverlong);
});

test('an Avro container record with a value avsc refuses (a long past 2^53, an enum index out of range) is malformed-avro with its bytes; the records after it are read', async () => {
  // The timestamp's long, found by its bytes and replaced by 2^60 (no JavaScript number holds
  // every long that large exactly: avsc refuses it).
  const marker = T0 + 123_456;
  const base = encodeAvroEvent({ ...event(2), timestamp: marker });
  const at = base.indexOf(long(marker));
  assert.ok(at > 0);
  const hugeLong = Buffer.concat([base.subarray(0, at), long(2 ** 60), base.subarray(at + long(marker).length)]);
  // `type` (an enum): the one byte where a track and a page event differ, set to index 9.
  const track = encodeAvroEvent(event(3));
  const page = encodeAvroEvent({ ...event(3), type: 'page', event: undefined } as unknown as TributaryEvent);
  const enumAt = [...track].findIndex((b, i) => b !== page[i]);
  const badEnum = Buffer.from(track);
  badEnum[enumAt] = Number(long(9)[0]);
  assert.throws(() => avroEventType().fromBuffer(badEnum), /enum/);

  const dir = tempDir();
  const path = await container(dir, [encodeAvroEvent(event(1)), hugeLong, encodeAvroEvent(event(4))], [badEnum, encodeAvroEvent(event(5))]);
  const items: Array<Record<string, unknown>> = [];
  for await (const item of readAvroEventFile(path)) items.push(item as unknown as Record<string, unknown>);
  // Before, the first of them ended the read of the file: "container file broken after 1 records".
  assert.deepEqual(items.map((it) => [it.index, it.ok ? (it.event as TributaryEvent).messageId : it.reason]), [[0, 'm1'], [1, 'malformed-avro'], [2, 'm4'], [3, 'malformed-avro'], [4, 'm5']]);
  assert.deepEqual(Buffer.from(items[1]?.raw as string, 'base64'), hugeLong);
  assert.deepEqual(Buffer.from(items[3]?.raw as string, 'base64'), badEnum);
  assert.equal(items[1]?.detail, 'the record does not decode: potential precision loss');
  assert.match(items[3]?.detail as string, /^the record does not decode: invalid .*enum index: 9$/);
});

test('a container header whose metadata map announces 2^50 entries is refused at once (avsc spun on it for ever, deaf to SIGTERM)', async () => {
  const dir = tempDir();
  const path = join(dir, 'header-bomb.avro');
  writeFileSync(path, Buffer.concat([Buffer.from('Obj\x01', 'latin1'), long(2 ** 50), long(11), Buffer.from('avro.schema')]));
  const t0 = Date.now();
  await assert.rejects(async () => {
    for await (const item of readAvroEventFile(path)) void item;
  }, { message: 'not a readable tributary.Event Avro container: no complete header (24 bytes)' });
  assert.ok(Date.now() - t0 < 5_000);
  // From a stream too (the runner reads a file as one), and a sound file as before.
  const good = join(dir, 'good.avro');
  await writeAvroEventFile(good, [event(1), event(2)]);
  const { createReadStream } = await import('node:fs');
  const read: string[] = [];
  for await (const item of readAvroEventFile(createReadStream(good))) if (item.ok) read.push(item.event.messageId);
  assert.deepEqual(read, ['m1', 'm2']);
  await assert.rejects(async () => {
    for await (const item of readAvroEventFile(createReadStream(path))) void item;
  }, /no complete header \(24 bytes\)/);
});

test('container blocks: a count of 2^32 or more, or more than the block holds, costs no record; a block that does not decompress costs its own records only', async () => {
  const dir = tempDir();
  const records = (from: number, n: number) => Array.from({ length: n }, (_, i) => encodeAvroEvent(event(from + i)));
  const read = async (path: string) => {
    const items: Array<[number, string]> = [];
    for await (const item of readAvroEventFile(path)) items.push([item.index, item.ok ? item.event.messageId : `${item.reason}: ${item.detail}`]);
    return items;
  };
  // avsc kept a count as count | 0: 2^32 became 0, the block vanished and the read waited for
  // ever (the process exited 13 without a word, its outputs partial).
  for (const count of [2 ** 32, 2 ** 40, 2 ** 31, 5]) {
    const path = await container(dir, records(1, 2), Object.assign(records(3, 3), { count }), records(6, 1));
    assert.deepEqual(await read(path), [
      [0, 'm1'], [1, 'm2'], [2, 'm3'], [3, 'm4'], [4, 'm5'],
      [5, `malformed-avro: a block announced ${count} records but its bytes hold 3`],
      [5, 'm6'],
    ], `count ${count}`);
  }
  // Deflate: the middle block's bytes are garbage. Before, the read ended there and the blocks
  // still queued before it were lost too ("container file broken after 0 records").
  const deflated = (rs: Buffer[]) => Object.assign(rs, { data: deflateRawSync(Buffer.concat(rs)) });
  const path = await container(dir, deflated(records(1, 2)), Object.assign(records(3, 3), { data: Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x13]) }), deflated(records(6, 2)));
  assert.deepEqual(await read(path), [
    [0, 'm1'], [1, 'm2'],
    [2, 'malformed-avro: a block\'s bytes do not decompress (deflate: invalid block type): its 3 records are skipped'],
    [5, 'm6'], [6, 'm7'],
  ]);
});

test('container blocks: an empty block costs nothing, bytes past a block\'s announced records are one dead letter, and a record over maxRecordBytes is oversized; the records around each are read', async () => {
  const dir = tempDir();
  const records = (from: number, n: number) => Array.from({ length: n }, (_, i) => encodeAvroEvent(event(from + i)));
  const read = async (path: string, maxRecordBytes?: number) => {
    const items: Array<[number, string]> = [];
    for await (const item of readAvroEventFile(path, { maxRecordBytes })) items.push([item.index, item.ok ? item.event.messageId : `${item.reason}: ${item.detail}`]);
    return items;
  };
  // A block of no records (the specification allows one): avsc waited for ever for its record,
  // and the process exited 13 with no word and its outputs unflushed.
  const empty = Object.assign([] as Buffer[], { count: 0 });
  assert.deepEqual(await read(await container(dir, records(1, 2), empty, records(3, 1))), [[0, 'm1'], [1, 'm2'], [2, 'm3']]);
  const notEmpty = Object.assign(records(3, 2), { count: 0 });
  const m3 = encodeAvroEvent(event(3)).length + encodeAvroEvent(event(4)).length;
  assert.deepEqual(await read(await container(dir, records(1, 2), notEmpty, records(5, 1))), [
    [0, 'm1'], [1, 'm2'],
    [2, `malformed-avro: a block announced 0 records but holds ${m3} bytes more: they are skipped`],
    [2, 'm5'],
  ]);
  // A block announcing 1 of its 3 records: the other two were dropped without a word.
  const under = Object.assign(records(3, 3), { count: 1 });
  const rest = encodeAvroEvent(event(4)).length + encodeAvroEvent(event(5)).length;
  assert.deepEqual(await read(await container(dir, records(1, 2), under, records(6, 1))), [
    [0, 'm1'], [1, 'm2'], [2, 'm3'],
    [3, `malformed-avro: a block announced 1 records but holds ${rest} bytes more: they are skipped`],
    [3, 'm6'],
  ]);
  // maxRecordBytes, as for a JSON line: found from the record's bounds, before it is built.
  const big = encodeAvroEvent(event(2, { blob: 'x'.repeat(5000) }));
  assert.deepEqual(await read(await container(dir, [encodeAvroEvent(event(1)), big, encodeAvroEvent(event(3))], records(4, 1)), 4096), [
    [0, 'm1'], [1, `oversized: record is ${big.length} bytes, more than maxRecordBytes 4096`], [2, 'm3'], [3, 'm4'],
  ]);
});
