/**
 * The transaction coordinator: producer epochs per transactional id, the one open transaction
 * of each id, and how a transaction ends. Committing writes a commit marker into every partition
 * the transaction wrote to and applies the group offsets it carried (`sendOffsets`), at once;
 * aborting writes abort markers and drops the offsets. A newer producer with the same id bumps
 * the epoch, which fences the older one and aborts its open transaction; a transaction open
 * longer than its timeout (by the broker's clock) is aborted when next looked at.
 */
import { fenced, MemoryKafkaError } from './errors.js';
import type { PartitionLog, TxnOutcome } from './log.js';

/** Group offsets a transaction commits: group → topic partition key → offset and metadata. */
export type TxnOffsets = Map<string, Map<string, { topic: string; partition: number; offset: string; metadata?: string }>>;

export interface OpenTransaction {
  readonly transactionalId: string;
  readonly epoch: number;
  readonly outcome: TxnOutcome;
  /** The partitions written, in first-write order. */
  readonly partitions: Set<PartitionLog>;
  readonly offsets: TxnOffsets;
  readonly startedAt: number;
  readonly timeoutMs: number;
}

export interface TransactionCoordinatorOptions {
  now: () => number;
  /** Applies a committed transaction's group offsets. */
  commitOffsets: (offsets: TxnOffsets) => void;
  /** Called after a transaction ended (readers may move on). */
  changed: () => void;
}

export class TransactionCoordinator {
  private readonly epochs = new Map<string, number>();
  private readonly open = new Map<string, OpenTransaction>();

  constructor(private readonly options: TransactionCoordinatorOptions) {}

  /** InitProducerId: a new epoch for `transactionalId`; the older producer's open transaction is aborted. */
  init(transactionalId: string): number {
    const current = this.open.get(transactionalId);
    if (current) this.end(current, 'abort');
    const epoch = (this.epochs.get(transactionalId) ?? -1) + 1;
    this.epochs.set(transactionalId, epoch);
    return epoch;
  }

  /** Throws when `epoch` is no longer the id's current one. */
  check(transactionalId: string, epoch: number): void {
    this.expire();
    if (this.epochs.get(transactionalId) !== epoch) throw fenced(transactionalId);
  }

  begin(transactionalId: string, epoch: number, timeoutMs: number): OpenTransaction {
    this.check(transactionalId, epoch);
    if (this.open.has(transactionalId)) {
      throw new MemoryKafkaError('CONCURRENT_TRANSACTIONS', `memory kafka: transactional id ${transactionalId} already has an open transaction (one at a time)`);
    }
    const tx: OpenTransaction = {
      transactionalId, epoch, outcome: { status: 'open' }, partitions: new Set(), offsets: new Map(), startedAt: this.options.now(), timeoutMs,
    };
    this.open.set(transactionalId, tx);
    return tx;
  }

  /** Throws unless `tx` is its id's open transaction of the current epoch. */
  ensureOpen(tx: OpenTransaction): void {
    this.check(tx.transactionalId, tx.epoch);
    if (tx.outcome.status !== 'open' || this.open.get(tx.transactionalId) !== tx) {
      throw new MemoryKafkaError('INVALID_TXN_STATE', `memory kafka: the transaction of ${tx.transactionalId} is already ${tx.outcome.status === 'open' ? 'aborted' : tx.outcome.status}`);
    }
  }

  /** Ends `tx`: markers in every partition it wrote, offsets applied on commit. */
  end(tx: OpenTransaction, how: 'commit' | 'abort'): void {
    if (this.open.get(tx.transactionalId) === tx) this.open.delete(tx.transactionalId);
    if (tx.outcome.status !== 'open') return;
    tx.outcome.status = how === 'commit' ? 'committed' : 'aborted';
    const now = this.options.now();
    for (const log of tx.partitions) log.mark(tx.outcome, how, now);
    if (how === 'commit' && tx.offsets.size > 0) this.options.commitOffsets(tx.offsets);
    this.options.changed();
  }

  /** Aborts the open transactions that outlived their timeout. */
  expire(): void {
    const now = this.options.now();
    for (const tx of [...this.open.values()]) if (now - tx.startedAt > tx.timeoutMs) this.end(tx, 'abort');
  }

  /** The open transactions (for inspection). */
  openIds(): string[] {
    return [...this.open.keys()].sort();
  }
}
