/**
 * Where an Avro value ends, found without recursion and without building it. avsc reads and skips
 * a value with one call per nesting level, so a record nested some thousands of levels deep (the
 * event schema's JSON values nest without bound) overflows the stack, and inside a container file
 * the records after it could not be found any more; and it builds every item a block count
 * announces, so a few bytes announcing 10⁹ items exhaust the heap. {@link avroValueEnd} walks the
 * same bytes with a stack of its own and a step budget, so the readers check a value's bounds
 * before avsc decodes it, and step over one too deep for avsc.
 *
 * The walk runs on a compact form of the writer type, made once per type ({@link compile}): a
 * switch over small integers, the varints read inline.
 *
 * @module
 */
import type { Type } from 'avsc';

/** Thrown by {@link avroValueEnd} when the bytes end inside the value (a truncated value). */
export class AvroValueTruncated extends Error {}

/** Thrown by {@link avroValueEnd} when the bytes announce more items than they can hold. */
export class AvroValueOverlong extends Error {}

/** Thrown by {@link avroValueEnd} for a type it cannot walk (none of avsc 5.7's): the caller goes on without the check. */
export class AvroTypeNotWalkable extends Error {}

/** Whether `error` is the one a too-deep value makes avsc throw. */
export { isStackOverflow } from '../util/stack-overflow.js';

/** The parts of avsc's types the compiler reads (their documented accessors). */
interface AnyType {
  typeName: string;
  fields?: ReadonlyArray<{ type: AnyType }>;
  types?: readonly AnyType[];
  itemsType?: AnyType;
  valuesType?: AnyType;
  underlyingType?: AnyType;
  size?: number;
}

const NULL = 0;
const VARINT = 1; // boolean is one byte, but a varint skip reads it right too
const FIXED = 2; // float, double, fixed: `size` bytes
const BYTES = 3; // bytes, string: a length, then that many bytes
const RECORD = 4;
const UNION = 5;
const ARRAY = 6;
const MAP = 7;
const BLOCK = 8; // a place in an array's or map's blocks, on the stack only

/** A type in the walk's form; one shape for all kinds (and for the blocks on the stack). */
interface Node {
  k: number;
  size: number;
  /** RECORD: the fields' types; UNION: the branches; ARRAY/MAP/BLOCK: [the items' type]. */
  parts: Node[];
  /** BLOCK: items left in the current block; whether they are map entries (a key first). */
  left: number;
  map: boolean;
}

const node = (k: number, size = 0): Node => ({ k, size, parts: [], left: 0, map: false });

const compiled = new WeakMap<object, Node>();

/** The walk's form of an avsc type (recursive types become cyclic nodes). */
function compile(type: AnyType, seen = new Map<AnyType, Node>()): Node {
  const known = seen.get(type);
  if (known) return known;
  let n: Node;
  switch (type.typeName) {
    case 'null':
      n = node(NULL);
      break;
    case 'boolean':
    case 'int':
    case 'long':
    case 'abstract:long':
    case 'enum':
      n = node(VARINT);
      break;
    case 'float':
      n = node(FIXED, 4);
      break;
    case 'double':
      n = node(FIXED, 8);
      break;
    case 'fixed':
      n = node(FIXED, type.size as number);
      break;
    case 'string':
    case 'bytes':
      n = node(BYTES);
      break;
    case 'record':
    case 'error':
      n = node(RECORD);
      seen.set(type, n);
      for (const f of type.fields ?? []) n.parts.push(compile(f.type, seen));
      return n;
    case 'union:wrapped':
    case 'union:unwrapped':
      n = node(UNION);
      seen.set(type, n);
      for (const t of type.types ?? []) n.parts.push(compile(t, seen));
      return n;
    case 'array':
    case 'map':
      n = node(type.typeName === 'map' ? MAP : ARRAY);
      seen.set(type, n);
      n.parts.push(compile((type.typeName === 'map' ? type.valuesType : type.itemsType) as AnyType, seen));
      return n;
    default:
      if (type.typeName.startsWith('logical:') && type.underlyingType) return compile(type.underlyingType, seen);
      throw new AvroTypeNotWalkable(`cannot walk an Avro ${type.typeName}`);
  }
  seen.set(type, n);
  return n;
}

/**
 * The position where the value of `type` (the type the bytes were written with) that starts at
 * `from` in `buf` ends, at any nesting depth. Throws on bytes that are not such a value:
 * {@link AvroValueTruncated} when they end inside it, {@link AvroValueOverlong} when they
 * announce more items than they can hold (avsc would build that many: a message of 40 bytes
 * announcing 10⁹ array items fills the heap), and an `Error` for a bad union index or a negative
 * length.
 *
 * @example
 * ```ts
 * avroValueEnd(avroEventType(), encodeAvroEvent(event)); // its length
 * ```
 */
export function avroValueEnd(type: Type, buf: Buffer, from = 0): number {
  let root = compiled.get(type);
  if (root === undefined) compiled.set(type, (root = compile(type as unknown as AnyType)));
  const end = buf.length;
  let pos = from;
  /** Reads a zigzag varint at `pos` (past the end: 0, with `pos` past the end). */
  const long = (): number => {
    let n = 0;
    let scale = 1;
    let b: number;
    do {
      b = pos < end ? (buf[pos] as number) : 0;
      pos++;
      n += (b & 0x7f) * scale;
      scale *= 128;
    } while (b & 0x80 && scale < 2 ** 70);
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  };
  const stack: Node[] = [root];
  // Every step reads at least a byte, or is one of a bounded number of structural steps per
  // byte: bytes that announce billions of empty items end here instead of looping.
  let budget = 64 * (end - from) + 1024;
  while (stack.length > 0) {
    if (pos > end) throw new AvroValueTruncated('not a complete Avro value (it ends past its bytes)');
    if (--budget < 0) throw new AvroValueOverlong('not an Avro value: it announces more items than its bytes can hold');
    const n = stack.pop() as Node;
    switch (n.k) {
      case NULL:
        break;
      case VARINT:
        while (pos < end && (buf[pos++] as number) & 0x80);
        break;
      case FIXED:
        pos += n.size;
        break;
      case BYTES: {
        const length = long();
        if (length < 0) throw new Error(`negative length ${length}`);
        pos += length;
        break;
      }
      case RECORD:
        for (let i = n.parts.length - 1; i >= 0; i--) stack.push(n.parts[i] as Node);
        break;
      case UNION: {
        const i = long();
        const branch = n.parts[i];
        if (branch === undefined) throw new Error(`invalid union index ${i}`);
        stack.push(branch);
        break;
      }
      case ARRAY:
      case MAP: {
        const block = node(BLOCK);
        block.parts = n.parts;
        block.map = n.k === MAP;
        stack.push(block);
        break;
      }
      case BLOCK:
        if (n.left > 0) {
          n.left--;
          stack.push(n);
          if (n.map) {
            const length = long();
            if (length < 0) throw new Error(`negative length ${length}`);
            pos += length;
          }
          stack.push(n.parts[0] as Node);
          break;
        }
        {
          const count = long();
          if (count === 0) break;
          if (count < 0) {
            // A negative count is followed by the block's byte size (read first, then added).
            const size = long();
            pos += size;
          } else n.left = count;
          stack.push(n);
        }
        break;
    }
  }
  if (pos > end) throw new AvroValueTruncated('not a complete Avro value (it ends past its bytes)');
  return pos;
}
