/**
 * Hostile Avro event bodies, built as bytes from a good event (avsc's own encoder cannot make
 * them: it overflows its stack on deep values, and writes counts that match): one nested
 * thousands of levels, one announcing 10⁹ array items, one with a string that is not UTF-8. In
 * `tributary.JsonValue` a value is a union of null | boolean | long | double | string | array |
 * map: an array is branch 5, a map branch 6, a string branch 4.
 */
import assert from 'node:assert/strict';
import type { TributaryEvent } from '../../lib/event/event.js';
import { encodeAvroEvent } from '../../lib/serde/avro.js';

/** A zigzag varint (an Avro int/long). */
export function zigzag(n: number): Buffer {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  const out: number[] = [];
  while (z >= 0x80) {
    out.push((z % 128) | 0x80);
    z = Math.floor(z / 128);
  }
  out.push(z);
  return Buffer.from(out);
}

/** `event` encoded with `properties` = `props`, and where the bytes of `marker` (a JsonValue) sit in it. */
function around(event: TributaryEvent, props: Record<string, unknown>, marker: Buffer): { bytes: Buffer; at: number } {
  const bytes = encodeAvroEvent({ ...event, properties: props });
  const at = bytes.indexOf(marker);
  assert.ok(at > 0, 'marker found');
  return { bytes, at };
}

const STRING_MARK = Buffer.concat([zigzag(4), zigzag(4), Buffer.from('MARK')]);

/** `event` with `properties.deep` nesting `levels` maps `{ a: … }` around "x". */
export function deepAvroEvent(event: TributaryEvent, levels: number): Buffer {
  const { bytes, at } = around(event, { deep: 'MARK' }, STRING_MARK);
  const open = Buffer.concat([zigzag(6), zigzag(1), zigzag(1), Buffer.from('a')]);
  const nested = Buffer.concat([...Array<Buffer>(levels).fill(open), zigzag(4), zigzag(1), Buffer.from('x'), Buffer.alloc(levels)]);
  return Buffer.concat([bytes.subarray(0, at), nested, bytes.subarray(at + STRING_MARK.length)]);
}

/** `event` with `properties.arr` an array whose block announces `count` items (one is there). */
export function arrayBombAvroEvent(event: TributaryEvent, count: number): Buffer {
  const item = Buffer.concat([zigzag(5), zigzag(1), STRING_MARK]);
  const { bytes, at } = around(event, { arr: ['MARK'] }, item);
  return Buffer.concat([bytes.subarray(0, at), zigzag(5), zigzag(count), bytes.subarray(at + 2)]);
}

/** `event` with `properties.note` a string whose second byte is 0xff (not UTF-8; the same length). */
export function invalidUtf8AvroEvent(event: TributaryEvent): Buffer {
  const { bytes, at } = around(event, { note: 'MARK' }, STRING_MARK);
  const out = Buffer.from(bytes);
  out[at + STRING_MARK.length - 3] = 0xff;
  return out;
}
