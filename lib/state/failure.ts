/**
 * Whether an error a step met while using its stores is the state engine's rather than the
 * record's. A step's error normally makes its record a dead letter; this kind must stop the run
 * (embedded: `state corrupted: … delete <dir> …`; Kafka: the task is reopened from its last
 * commit and rebuilt from the changelogs), because every following record would meet it too.
 *
 * @module
 */
import { StateCorruptedError } from './engines/lmdb/corruption.js';
import { InvalidKeyError } from './key-order.js';

/**
 * LMDB's return codes (`MDB_CORRUPTED`, `MDB_PAGE_NOTFOUND`, `MDB_MAP_FULL`, …), which lmdb-js
 * puts first in its messages. Only there: a record's own values appear inside other messages (a
 * refused key is quoted in full), and a record must not be able to pass for a broken disk.
 */
const LMDB_CODE = /^MDB_[A-Z_]+\b/;
/** The disk or file system refusing a read or write. */
const DISK_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO']);

/**
 * True for a damaged state file ({@link StateCorruptedError}, a message that starts with an LMDB code)
 * and for a disk that refuses (no space, read-only, I/O error), anywhere in the error's causes.
 *
 * @example
 * ```ts
 * stateEngineFailure(new Error('MDB_PAGE_NOTFOUND: Requested page not found')); // true
 * stateEngineFailure(new Error('boom on m3'));                                  // false
 * ```
 */
export function stateEngineFailure(error: unknown): boolean {
  if (error instanceof InvalidKeyError) return false; // the record's key, whatever it says
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof StateCorruptedError || LMDB_CODE.test(e.message)) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && DISK_CODES.has(code)) return true;
  }
  return false;
}
