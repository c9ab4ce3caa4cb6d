/**
 * A check of an LMDB data file before lmdb-js maps it. LMDB trusts its meta pages: a data file
 * cut short (a disk that filled up, a copy that stopped, `truncate`) makes the process die of
 * SIGBUS when a page past the end is read, and garbage meta pages make it die of SIGSEGV, with no
 * message either way. So the file's meta pages are read with `fs` first and checked against the
 * file's size.
 *
 * The layout read here (LMDB as lmdb-js builds it, 64-bit): a page starts with a 24-byte header
 * (page number, txnid, pad, flags at byte 18); the meta pages are page 0 and page 1 (and, with
 * lmdb-js's overlapping sync, a third meta in the second half of page 0). A meta, right after the
 * page header, holds: magic 0xBEEFC0DE (+0), data version (+4, low 16 bits: 2), map size (+16),
 * the free and main databases (+24, 48 bytes each; the page size is the free database's first
 * field, +24), the last page used (+120) and the txnid that wrote it (+128). LMDB opens with the
 * meta of the highest txnid, so that one's last page must lie inside the file.
 *
 * @module
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';

/** LMDB's meta-page magic number (MDB_MAGIC). */
const LMDB_MAGIC = 0xbeefc0de;
/** The data file format LMDB reads and writes (MDB_DATA_VERSION). */
const DATA_VERSION = 2;
/** Bytes of a page header (before the meta). */
const PAGE_HEADER = 24;
const P_META = 0x08;
/** Bytes of a meta read here (through the txnid). */
const META_BYTES = 136;
/** The largest page size LMDB supports: reading twice this covers both meta pages. */
const MAX_PAGE = 0x10000;
/** How many bytes of the file {@link lmdbBytesProblem} needs. */
export const PROBE_BYTES = 2 * MAX_PAGE;

interface Meta {
  magic: number;
  version: number;
  pageSize: number;
  lastPage: bigint;
  txnid: bigint;
}

function metaAt(bytes: Uint8Array, offset: number): Meta | undefined {
  if (bytes.length < offset + META_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, META_BYTES);
  return {
    magic: view.getUint32(0, true),
    version: view.getUint32(4, true) & 0xffff,
    pageSize: view.getUint32(24, true),
    lastPage: view.getBigUint64(120, true),
    txnid: view.getBigUint64(128, true),
  };
}

const flagsOf = (bytes: Uint8Array, page: number) => bytes[page + 18]! | (bytes[page + 19]! << 8);

/** Why meta page `n` (at `page`) is not one, or undefined. */
function badMetaPage(bytes: Uint8Array, page: number, n: number): string | undefined {
  const meta = metaAt(bytes, page + PAGE_HEADER);
  if (meta === undefined) return `meta page ${n} is cut off`;
  if ((flagsOf(bytes, page) & P_META) === 0 || meta.magic !== LMDB_MAGIC) return `meta page ${n} is not an LMDB meta page`;
  if (meta.version !== DATA_VERSION) return `meta page ${n} is LMDB data version ${meta.version}, expected ${DATA_VERSION}`;
  return undefined;
}

/**
 * Why an LMDB data file cannot be opened safely, from its first {@link PROBE_BYTES} bytes (or all
 * of it, when shorter) and its size; undefined when it is sound as far as its meta pages tell, or
 * empty (LMDB initializes an empty file).
 *
 * @example
 * ```ts
 * lmdbBytesProblem(head, 4096); // 'truncated: 4096 bytes, its last commit uses 4657152 (page 1136)'
 * lmdbBytesProblem(new Uint8Array(8192).fill(7), 8192); // 'meta page 0 is not an LMDB meta page'
 * ```
 */
export function lmdbBytesProblem(bytes: Uint8Array, fileSize: number): string | undefined {
  if (fileSize === 0) return undefined;
  const first = badMetaPage(bytes, 0, 0);
  if (first) return first === 'meta page 0 is cut off' ? `truncated: ${fileSize} bytes, shorter than a meta page` : first;
  const meta0 = metaAt(bytes, PAGE_HEADER)!;
  const pageSize = meta0.pageSize;
  if (pageSize < 512 || pageSize > MAX_PAGE || (pageSize & (pageSize - 1)) !== 0) return `meta page 0 records a page size of ${pageSize}`;
  if (fileSize < 2 * pageSize) return `truncated: ${fileSize} bytes, shorter than its two meta pages (${2 * pageSize})`;
  const second = badMetaPage(bytes, pageSize, 1);
  if (second) return second;
  // LMDB picks the meta of the highest txnid, the overlapping-sync one (no magic of its own) included.
  const candidates = [meta0, metaAt(bytes, pageSize + PAGE_HEADER)!, metaAt(bytes, pageSize / 2 + PAGE_HEADER)!];
  const latest = candidates.reduce((a, b) => (b.txnid > a.txnid ? b : a));
  if (latest.pageSize !== pageSize) return `its latest meta records a page size of ${latest.pageSize}, meta page 0 ${pageSize}`;
  const needed = (latest.lastPage + 1n) * BigInt(pageSize);
  if (latest.lastPage < 1n || needed > BigInt(fileSize)) {
    return `truncated: ${fileSize} bytes, its last commit uses ${needed} (page ${latest.lastPage})`;
  }
  return undefined;
}

/**
 * {@link lmdbBytesProblem} of a data file on disk (undefined when the file is absent).
 *
 * @example
 * ```ts
 * const why = lmdbFileProblem('state/data.mdb');
 * if (why) throw new StateCorruptedError('state/data.mdb', 'state', why);
 * ```
 */
export function lmdbFileProblem(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, PROBE_BYTES));
    let n = 0;
    while (n < head.length) {
      const read = readSync(fd, head, n, head.length - n, n);
      if (read === 0) break;
      n += read;
    }
    return lmdbBytesProblem(head.subarray(0, n), size);
  } finally {
    closeSync(fd);
  }
}
