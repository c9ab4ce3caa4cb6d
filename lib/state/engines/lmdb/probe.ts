/**
 * A check of an LMDB data file before opening it: lmdb-js crashes the process (SIGSEGV) on a data
 * file whose meta pages are garbage, so the Kafka runner and its global tables probe LMDB's magic
 * number first and rebuild the state when the file is not sound.
 *
 * @module
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';

/** LMDB's meta-page magic number (MDB_MAGIC), right after the first page's header. */
const LMDB_MAGIC = 0xbeefc0de;

/** Why an LMDB data file cannot be opened safely, or undefined (absent, empty or sound meta pages). */
export function lmdbFileProblem(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(32);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n === 0) return undefined;
    // The magic follows the page header: 16 bytes in LMDB 0.9, 24 in the LMDB 1.x lmdb-js ships.
    const magicAt = (offset: number) => n >= offset + 4 && head.readUInt32LE(offset) === LMDB_MAGIC;
    if (!magicAt(24) && !magicAt(16)) return `${file} is not an LMDB data file (bad meta page)`;
    return undefined;
  } finally {
    closeSync(fd);
  }
}
