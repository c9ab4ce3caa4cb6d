import { readSync } from 'node:fs';

/** Up to `length` bytes of the open file `fd` from `position` (fewer at its end). */
export function readAt(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length);
  let n = 0;
  while (n < length) {
    const read = readSync(fd, buf, n, length - n, position + n);
    if (read === 0) break;
    n += read;
  }
  return buf.subarray(0, n);
}
