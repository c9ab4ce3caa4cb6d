/**
 * A damaged LMDB state file as the error a user sees: which file, why, and what to do. Raised
 * before lmdb-js maps a file whose meta pages do not hold up (`probe.ts`), and for the errors
 * LMDB itself reports about a damaged file (`MDB_CORRUPTED`, `MDB_PAGE_NOTFOUND`, ...) when it
 * opens or reads one.
 *
 * @module
 */
import { dirname } from 'node:path';

/** The state files of an LMDB environment cannot be used as they are. */
export class StateCorruptedError extends Error {
  override readonly name = 'StateCorruptedError';

  /**
   * @param file the damaged file (`<dir>/data.mdb`)
   * @param why what is wrong with it
   */
  constructor(readonly file: string, readonly why: string, options?: { cause?: unknown }) {
    super(`state corrupted: ${file} (${why}); delete ${dirname(file)} to start over, or restore it`, options);
  }
}

/** LMDB's return codes that say the file is damaged or not an LMDB file of this version. */
const DAMAGE = /\bMDB_(CORRUPTED|PAGE_NOTFOUND|INVALID|VERSION_MISMATCH|PANIC)\b/;

/**
 * The {@link StateCorruptedError} an error LMDB raised over `file` amounts to, or undefined when
 * it is not about a damaged file (a full disk, a permission, a bug).
 *
 * @example
 * ```ts
 * stateCorruption(new Error('MDB_PAGE_NOTFOUND: Requested page not found'), 'state/data.mdb')?.message;
 * // 'state corrupted: state/data.mdb (MDB_PAGE_NOTFOUND: Requested page not found); delete state to start over, or restore it'
 * ```
 */
export function stateCorruption(error: unknown, file: string): StateCorruptedError | undefined {
  if (error instanceof StateCorruptedError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = DAMAGE.exec(message);
  if (!code) return undefined;
  const why = message.split('\n')[0]!.trim().replace(/\.$/, '');
  return new StateCorruptedError(file, why, { cause: error });
}
