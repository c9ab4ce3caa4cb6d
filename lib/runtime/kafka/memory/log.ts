/**
 * One partition's log: records at consecutive offsets (gaps only after {@link PartitionLog.compact}
 * or {@link PartitionLog.deleteBefore}), transaction markers taking an offset each as in Kafka,
 * and the last stable offset (LSO): the first offset of the oldest open transaction, or the log
 * end. A read_committed reader never reads past the LSO and skips aborted records and markers;
 * a read_uncommitted one reads up to the log end (the high watermark: every write is acknowledged
 * by all replicas at once here).
 */

/** The outcome of a transaction, shared by every record it wrote (so a commit marks them all at once). */
export interface TxnOutcome {
  status: 'open' | 'committed' | 'aborted';
}

export interface LogEntry {
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
  timestamp: number;
  /** Set on the records of a transaction. */
  txn?: TxnOutcome;
  /** A transaction marker (control record): takes an offset, never delivered. */
  control?: 'commit' | 'abort';
}

/** A record as it is appended. */
export type Appended = Pick<LogEntry, 'key' | 'value' | 'headers' | 'timestamp'>;

/** What a fetch from a position found. */
export interface FetchResult {
  /** The records a reader of that isolation level sees, in offset order. */
  records: LogEntry[];
  /** The position once everything fetched is consumed (past trailing markers and aborted records). */
  end: number;
}

export interface FetchOptions {
  readCommitted: boolean;
  /** Stop adding records once their key, value and header bytes reach this (at least one record is returned). */
  maxBytes?: number;
  /** Never fetch past this offset (inclusive). */
  upTo?: number;
}

const sizeOf = (e: LogEntry): number => {
  let n = (e.key?.length ?? 0) + (e.value?.length ?? 0);
  for (const [k, v] of Object.entries(e.headers)) n += k.length + v.length;
  return n;
};

/** Whether a reader of that isolation level sees `e`. */
export function visible(e: LogEntry, readCommitted: boolean): boolean {
  if (e.control) return false;
  return !readCommitted || e.txn === undefined || e.txn.status === 'committed';
}

export class PartitionLog {
  private readonly entries: LogEntry[] = [];
  /** First offset of each open transaction that wrote here. */
  private readonly open = new Map<TxnOutcome, number>();
  /** The log start offset (records before it were deleted). */
  private start = 0;
  /** The log end offset: the offset of the next record. */
  private next = 0;

  constructor(readonly topic: string, readonly partition: number) {}

  /** The log start offset. */
  low(): number {
    return this.start;
  }

  /** The log end offset (high watermark). */
  high(): number {
    return this.next;
  }

  /** The last stable offset: where read_committed readers stop. */
  lastStable(): number {
    let lso = this.next;
    for (const first of this.open.values()) if (first < lso) lso = first;
    return lso;
  }

  /** Appends records (of transaction `txn`, if given); returns the base offset. */
  append(records: Appended[], txn?: TxnOutcome): number {
    const base = this.next;
    if (txn && records.length > 0 && !this.open.has(txn)) this.open.set(txn, base);
    for (const r of records) this.entries.push({ ...r, offset: this.next++, ...(txn ? { txn } : {}) });
    return base;
  }

  /** Writes the marker that ends `txn` here (its outcome is already set). */
  mark(txn: TxnOutcome, control: 'commit' | 'abort', timestamp: number): void {
    this.entries.push({ offset: this.next++, key: null, value: null, headers: {}, timestamp, control });
    this.open.delete(txn);
  }

  /** Index of the first entry at or after `offset`. */
  private indexOf(offset: number): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.entries[mid] as LogEntry).offset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * The records from `from` on, up to the LSO (read_committed) or the log end, within
   * `maxBytes`. A position before the log start reads from the log start (as a consumer whose
   * offset is out of range and resets to the earliest).
   */
  fetch(from: number, options: FetchOptions): FetchResult {
    const position = Math.max(from, this.start);
    let limit = options.readCommitted ? this.lastStable() : this.next;
    if (options.upTo !== undefined) limit = Math.min(limit, options.upTo + 1);
    const records: LogEntry[] = [];
    if (position >= limit) return { records, end: position };
    let bytes = 0;
    for (let i = this.indexOf(position); i < this.entries.length; i++) {
      const e = this.entries[i] as LogEntry;
      if (e.offset >= limit) break;
      if (options.maxBytes !== undefined && records.length > 0 && bytes >= options.maxBytes) return { records, end: e.offset };
      if (visible(e, options.readCommitted)) {
        records.push(e);
        bytes += sizeOf(e);
      }
    }
    return { records, end: limit };
  }

  /** Deletes the records before `offset` (Kafka's DeleteRecords); returns the new log start. */
  deleteBefore(offset: number): number {
    const to = Math.min(Math.max(offset, this.start), this.next);
    this.entries.splice(0, this.indexOf(to));
    this.start = to;
    return to;
  }

  /**
   * Log compaction: below the LSO, keeps only the last record of each key (tombstones, markers and
   * aborted records included, as the cleaner leaves them until later passes), leaving offset gaps.
   */
  compact(): number {
    const stable = this.lastStable();
    const last = new Map<string, number>();
    for (const e of this.entries) {
      if (e.offset >= stable) break;
      if (!e.control && e.key !== null && visible(e, true)) last.set(e.key.toString('latin1'), e.offset);
    }
    const before = this.entries.length;
    const kept = this.entries.filter((e) => e.offset >= stable || e.control || e.key === null || !visible(e, true)
      || last.get(e.key.toString('latin1')) === e.offset);
    this.entries.splice(0, this.entries.length, ...kept);
    return before - kept.length;
  }

  /** Every entry, markers included (for inspection). */
  all(): readonly LogEntry[] {
    return this.entries;
  }
}
