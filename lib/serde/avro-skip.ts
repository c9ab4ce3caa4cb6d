/**
 * Where an Avro value ends, found without recursion. avsc reads and skips a value with one call
 * per nesting level, so a record nested some thousands of levels deep (the event schema's JSON
 * values nest without bound) overflows the stack, and inside a container file the records after
 * it could not be found any more. {@link skipAvroValue} walks the same bytes with a stack of its
 * own, so the reader can step over such a record and go on with the next.
 *
 * @module
 */
import type { Type } from 'avsc';

/** avsc's read position over a buffer (its `Tap`), as far as skipping uses it. */
export interface AvroTap {
  buf: Buffer;
  pos: number;
  readLong(): number;
  skipLong(): void;
  skipBoolean(): void;
  skipFloat(): void;
  skipDouble(): void;
  skipString(): void;
  skipBytes(): void;
  skipFixed(length: number): void;
}

/** The parts of avsc's types the walk reads (their documented accessors). */
interface AnyType {
  typeName: string;
  fields?: ReadonlyArray<{ type: AnyType }>;
  types?: readonly AnyType[];
  itemsType?: AnyType;
  valuesType?: AnyType;
  underlyingType?: AnyType;
  size?: number;
}

/** The items of an array or map still to skip in its current block (0: read the next block's count). */
interface Block {
  items: AnyType;
  map: boolean;
  left: number;
}

/** Whether `error` is the one a too-deep value makes avsc throw. */
export function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /call stack/i.test(error.message);
}

/**
 * Moves `tap` past one value of `type` (the type the bytes were written with), at any nesting
 * depth. Throws on bytes that are not such a value (a bad union index, a type it cannot skip,
 * the end of the buffer), or when the bytes announce more items than they can hold.
 *
 * @example
 * ```ts
 * const tap = { ...}; // avsc's Tap at a record's first byte
 * skipAvroValue(writerType, tap); // tap.pos: the record's end
 * ```
 */
export function skipAvroValue(type: Type, tap: AvroTap): void {
  const stack: Array<AnyType | Block> = [type as unknown as AnyType];
  // Every step reads at least a byte, or is one of a bounded number of structural steps per
  // byte: bytes that announce billions of empty items end here instead of looping.
  let budget = 64 * (tap.buf.length - tap.pos) + 1024;
  while (stack.length > 0) {
    if (--budget < 0 || tap.pos > tap.buf.length) throw new Error('not a complete Avro value (it announces more than its bytes hold)');
    const work = stack.pop() as AnyType | Block;
    if ('left' in work) {
      if (work.left > 0) {
        work.left--;
        stack.push(work);
        if (work.map) tap.skipString();
        stack.push(work.items);
        continue;
      }
      const n = tap.readLong();
      if (n === 0) continue;
      if (n < 0) {
        // The block's byte size follows (read first: `tap.pos += tap.readLong()` would add to the position before the read).
        const size = tap.readLong();
        tap.pos += size;
      } else work.left = n;
      stack.push(work);
      continue;
    }
    switch (work.typeName) {
      case 'null':
        break;
      case 'boolean':
        tap.skipBoolean();
        break;
      case 'int':
      case 'long':
      case 'abstract:long':
      case 'enum':
        tap.skipLong();
        break;
      case 'float':
        tap.skipFloat();
        break;
      case 'double':
        tap.skipDouble();
        break;
      case 'string':
        tap.skipString();
        break;
      case 'bytes':
        tap.skipBytes();
        break;
      case 'fixed':
        tap.skipFixed(work.size as number);
        break;
      case 'record':
      case 'error': {
        const fields = work.fields ?? [];
        for (let i = fields.length - 1; i >= 0; i--) stack.push((fields[i] as { type: AnyType }).type);
        break;
      }
      case 'union:wrapped':
      case 'union:unwrapped': {
        const i = tap.readLong();
        const branch = work.types?.[i];
        if (branch === undefined) throw new Error(`invalid union index ${i}`);
        stack.push(branch);
        break;
      }
      case 'array':
        stack.push({ items: work.itemsType as AnyType, map: false, left: 0 });
        break;
      case 'map':
        stack.push({ items: work.valuesType as AnyType, map: true, left: 0 });
        break;
      default:
        if (work.typeName.startsWith('logical:') && work.underlyingType) stack.push(work.underlyingType);
        else throw new Error(`cannot skip an Avro ${work.typeName}`);
    }
  }
  if (tap.pos > tap.buf.length) throw new Error('not a complete Avro value (it ends past its bytes)');
}
