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
 * meta of the highest txnid, so that one's last page must lie inside the file. The root pages
 * that meta names (free list, main database) and the roots of the named databases listed in a
 * main database of one page are checked too: each page header repeats its page number, so a page
 * overwritten with other bytes shows. (Damage deeper in a tree is not looked for: that would read
 * the whole file; LMDB reports some of it as `MDB_CORRUPTED`/`MDB_PAGE_NOTFOUND`, `corruption.ts`.)
 *
 * The latest meta's last page may lie past the end of a sound file: LMDB counts the pages a
 * commit allocated and freed again ("loose" pages), which it never writes, and lists them in the
 * free list. So pages past the end are a truncation only when one of them is not in the free
 * list (the free database: per transaction id, a count then that many page numbers, in the node
 * or in overflow pages). Refusing such a file made a run's second start fail on the state the
 * first one left (a cart pipeline over 12,000 generated events, seed 3).
 *
 * @module
 */
import { closeSync, existsSync, fstatSync, openSync, statSync, type Stats } from 'node:fs';
import { readAt } from '../../../util/read-at.js';

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
  /** Root pages of the free-list and main databases (P_INVALID: empty). */
  roots: [bigint, bigint];
  lastPage: bigint;
  txnid: bigint;
}

/** A page number: none (an empty database). */
const P_INVALID = 0xffffffffffffffffn;
const P_BRANCH = 0x01;
const P_LEAF = 0x02;
/** A main-database node whose data is a named database's record (MDB_db). */
const F_SUBDATA = 0x02;
/** Offset of `md_root` in an MDB_db record. */
const DB_ROOT = 40;

function metaAt(bytes: Uint8Array, offset: number): Meta | undefined {
  if (bytes.length < offset + META_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, META_BYTES);
  return {
    magic: view.getUint32(0, true),
    version: view.getUint32(4, true) & 0xffff,
    pageSize: view.getUint32(24, true),
    roots: [view.getBigUint64(24 + DB_ROOT, true), view.getBigUint64(72 + DB_ROOT, true)],
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

/** Reads page `pgno` of the file (its first bytes at least: the header and node pointers), or undefined past its end. */
export type PageReader = (pgno: bigint, pageSize: number) => Uint8Array | undefined;

/** Why root page `pgno` (of `what`) is not a tree page of its own number, or undefined. */
function badRoot(pgno: bigint, what: string, lastPage: bigint, pageSize: number, pageAt: PageReader): string | undefined {
  if (pgno === P_INVALID) return undefined;
  if (pgno < 2n || pgno > lastPage) return `the root page of ${what} is page ${pgno}, outside pages 2 to ${lastPage}`;
  const page = pageAt(pgno, pageSize);
  if (page === undefined || page.length < PAGE_HEADER) return `the root page of ${what} (page ${pgno}) is past the end of the file`;
  const view = new DataView(page.buffer, page.byteOffset, page.length);
  const flags = view.getUint16(18, true);
  if (view.getBigUint64(0, true) !== pgno || (flags & (P_BRANCH | P_LEAF)) === 0) return `page ${pgno}, the root of ${what}, holds other bytes`;
  return undefined;
}

/** The named databases' root pages listed in a main database whose root is a leaf page (else none). */
function namedRoots(page: Uint8Array): bigint[] {
  const view = new DataView(page.buffer, page.byteOffset, page.length);
  if ((view.getUint16(18, true) & P_LEAF) === 0) return [];
  const count = view.getUint16(20, true) >> 1;
  const roots: bigint[] = [];
  for (let i = 0; i < count && PAGE_HEADER + 2 * i + 2 <= page.length; i++) {
    const node = PAGE_HEADER + view.getUint16(PAGE_HEADER + 2 * i, true);
    if (node + 8 > page.length) break;
    const keySize = view.getUint16(node + 6, true);
    const data = node + 8 + keySize;
    if ((view.getUint16(node + 4, true) & F_SUBDATA) !== 0 && data + DB_ROOT + 8 <= page.length) roots.push(view.getBigUint64(data + DB_ROOT, true));
  }
  return roots;
}

/**
 * Why an LMDB data file cannot be opened safely, from its first {@link PROBE_BYTES} bytes (or all
 * of it, when shorter), its size and a reader of its root pages; undefined when it is sound as
 * far as its meta and root pages tell, or empty (LMDB initializes an empty file).
 *
 * @example
 * ```ts
 * const file = readFileSync('state/data.mdb');
 * const pageAt: PageReader = (n, size) => file.subarray(Number(n) * size, Number(n + 1n) * size);
 * lmdbBytesProblem(file.subarray(0, 4096), 4096, pageAt); // 'truncated: 4096 bytes, its last commit uses 57344 (page 13)'
 * lmdbBytesProblem(new Uint8Array(8192).fill(7), 8192, pageAt); // 'meta page 0 is not an LMDB meta page'
 * ```
 */
export function lmdbBytesProblem(bytes: Uint8Array, fileSize: number, pageAt: PageReader): string | undefined {
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
  const [freeRoot, mainRoot] = latest.roots;
  const filePages = BigInt(Math.floor(fileSize / pageSize));
  if (latest.lastPage < 1n || (latest.lastPage >= filePages && !allFree(filePages, latest.lastPage, freeRoot, pageSize, pageAt))) {
    return `truncated: ${fileSize} bytes, its last commit uses ${needed} (page ${latest.lastPage})`;
  }
  const core = badRoot(freeRoot, 'the free list', latest.lastPage, pageSize, pageAt) ?? badRoot(mainRoot, 'the main database', latest.lastPage, pageSize, pageAt);
  if (core) return core;
  if (mainRoot === P_INVALID) return undefined;
  for (const root of namedRoots(pageAt(mainRoot, pageSize)!)) {
    const bad = badRoot(root, 'a named database', latest.lastPage, pageSize, pageAt);
    if (bad) return bad;
  }
  return undefined;
}

/** Pages of the free database read at most (a free list is a small part of a file). */
const MAX_FREE_PAGES = 4096;
const F_BIGDATA = 0x01;

/**
 * Whether every page from `first` to `last` is in the free list rooted at `root`; false when it
 * is not, or cannot be read whole (a page past the end, or not what a free-list page is).
 */
function allFree(first: bigint, last: bigint, root: bigint, pageSize: number, pageAt: PageReader): boolean {
  if (root === P_INVALID) return false;
  const free = new Set<bigint>();
  const stack = [root];
  let visited = 0;
  while (stack.length > 0) {
    const pgno = stack.pop()!;
    if (pgno >= first || ++visited > MAX_FREE_PAGES) return false;
    const page = pageAt(pgno, pageSize);
    if (page === undefined || page.length < pageSize) return false;
    const view = new DataView(page.buffer, page.byteOffset, page.length);
    const flags = view.getUint16(18, true);
    if (view.getBigUint64(0, true) !== pgno || (flags & (P_BRANCH | P_LEAF)) === 0) return false;
    const count = view.getUint16(20, true) >> 1;
    for (let i = 0; i < count; i++) {
      const node = PAGE_HEADER + view.getUint16(PAGE_HEADER + 2 * i, true);
      if (node + 8 > page.length) return false;
      const lo = view.getUint16(node, true);
      const hi = view.getUint16(node + 2, true);
      const nodeFlags = view.getUint16(node + 4, true);
      if ((flags & P_BRANCH) !== 0) {
        stack.push(BigInt(lo) | (BigInt(hi) << 16n) | (BigInt(nodeFlags) << 32n));
        continue;
      }
      const data = node + 8 + view.getUint16(node + 6, true);
      const ids = (nodeFlags & F_BIGDATA) !== 0 ? overflowIds(view, data, first, pageSize, pageAt) : inlineIds(view, data, lo | (hi << 16));
      if (ids === undefined) return false;
      for (const id of ids) free.add(id);
    }
  }
  for (let p = first; p <= last; p++) if (!free.has(p)) return false;
  return true;
}

/** A free-list record in its node: a count, then that many page numbers (8 bytes each). */
function inlineIds(view: DataView, at: number, size: number): bigint[] | undefined {
  if (size < 8 || at + size > view.byteLength) return undefined;
  const n = Number(view.getBigUint64(at, true));
  if ((n + 1) * 8 > size) return undefined;
  const ids: bigint[] = [];
  for (let j = 1; j <= n; j++) ids.push(view.getBigUint64(at + 8 * j, true));
  return ids;
}

/** A free-list record in overflow pages (the node holds the first page's number). */
function overflowIds(view: DataView, at: number, first: bigint, pageSize: number, pageAt: PageReader): bigint[] | undefined {
  if (at + 8 > view.byteLength) return undefined;
  const pgno = view.getBigUint64(at, true);
  const head = pgno < first ? pageAt(pgno, pageSize) : undefined;
  if (head === undefined || head.length < pageSize) return undefined;
  const headView = new DataView(head.buffer, head.byteOffset, head.length);
  const pages = headView.getUint32(20, true);
  if (headView.getBigUint64(0, true) !== pgno || pages < 1 || pgno + BigInt(pages) > first) return undefined;
  const chunks = [head];
  for (let i = 1; i < pages; i++) {
    const next = pageAt(pgno + BigInt(i), pageSize);
    if (next === undefined || next.length < pageSize) return undefined;
    chunks.push(next);
  }
  const all = Buffer.concat(chunks);
  return inlineIds(new DataView(all.buffer, all.byteOffset, all.length), PAGE_HEADER, all.length - PAGE_HEADER);
}

/** What a path that is not a regular file is (LMDB would map a device, wait on a FIFO). */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * {@link lmdbBytesProblem} of a data file on disk (undefined when the file is absent). A path
 * that is not a regular file (a link to /dev/zero, a FIFO) is refused before it is opened:
 * LMDB would map the device and crash the process, or wait on the FIFO for ever.
 *
 * @example
 * ```ts
 * const why = lmdbFileProblem('state/data.mdb');
 * if (why) throw new StateCorruptedError('state/data.mdb', 'state', why);
 * ```
 */
export function lmdbFileProblem(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const st = statSync(file);
  if (!st.isFile()) return `${kindOf(st)}, not an LMDB data file`;
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const pageAt: PageReader = (pgno, pageSize) => {
      const at = Number(pgno) * pageSize;
      return at >= size ? undefined : readAt(fd, Math.min(pageSize, size - at), at);
    };
    return lmdbBytesProblem(readAt(fd, Math.min(size, PROBE_BYTES), 0), size, pageAt);
  } finally {
    closeSync(fd);
  }
}
