/**
 * Fault injection: a test arms a fault for the next matching call(s) of one operation, and the
 * call fails with the given error, either before it takes effect or, with `written`, after (the
 * broker applied it but the acknowledgement was lost, as a dropped connection does).
 */
import { MemoryKafkaError } from './errors.js';

/**
 * The operations that can fail: `send` (a producer's or a transaction's send), `sendOffsets`,
 * `txCommit` and `txAbort` (a transaction's), `commit` (a consumer's offset commit),
 * `fetchOffsets` and `endOffsets` (admin).
 */
export type FaultOp = 'send' | 'sendOffsets' | 'txCommit' | 'txAbort' | 'commit' | 'fetchOffsets' | 'endOffsets';

export interface FaultOptions {
  /** The error thrown; default a retriable `MemoryKafkaError` of type `INJECTED`. */
  error?: Error;
  /** How many matching calls fail; default 1. */
  times?: number;
  /** Matching calls to let through first; default 0. */
  skip?: number;
  /** `send`, `sendOffsets`, `txCommit`, `commit`: the call takes effect, then throws. */
  written?: boolean;
  /** Only calls touching this topic (a send with a record for it, a commit or offsets of it). */
  topic?: string;
  /** Only calls of adapters with this client id. */
  clientId?: string;
  /** `send` only: only sends in a transaction (true) or only plain sends (false). */
  transactional?: boolean;
  /**
   * The client's process dies at that call (`kill -9` at an exact point): {@link MemoryBroker.crash}
   * of its client id, and the call fails (after taking effect, with `written`).
   */
  crash?: boolean;
}

/** An armed fault: what it hit so far. */
export interface Fault {
  readonly op: FaultOp;
  /** One line per failed call: the client, what it did, whether it was written. */
  readonly hits: readonly string[];
  /** Calls it will still fail. */
  remaining(): number;
  /** Disarms it. */
  cancel(): void;
}

/** A call as faults see it. */
export interface FaultCall {
  clientId: string;
  topics: readonly string[];
  transactional?: boolean;
  /** What the call does, for {@link Fault.hits} and the default error. */
  what: string;
}

interface Armed {
  op: FaultOp;
  options: FaultOptions;
  skip: number;
  left: number;
  hits: string[];
}

export class FaultRegistry {
  private readonly armed: Armed[] = [];

  arm(op: FaultOp, options: FaultOptions = {}): Fault {
    const a: Armed = { op, options, skip: options.skip ?? 0, left: options.times ?? 1, hits: [] };
    this.armed.push(a);
    return {
      op,
      hits: a.hits,
      remaining: () => a.left,
      cancel: () => {
        a.left = 0;
      },
    };
  }

  /** The failure a call meets (counted), or undefined: the call goes through. */
  take(op: FaultOp, call: FaultCall): { error: Error | undefined; written: boolean; crash: boolean } | undefined {
    for (const a of this.armed) {
      if (a.op !== op || a.left <= 0) continue;
      const o = a.options;
      if (o.clientId !== undefined && o.clientId !== call.clientId) continue;
      if (o.topic !== undefined && !call.topics.includes(o.topic)) continue;
      if (o.transactional !== undefined && o.transactional !== (call.transactional ?? false)) continue;
      if (a.skip > 0) {
        a.skip--;
        continue;
      }
      a.left--;
      const written = o.written ?? false;
      const crash = o.crash ?? false;
      a.hits.push(`${call.clientId}: ${call.what}${written ? ' (written, then failed)' : ''}${crash ? ' (the client crashed)' : ''}`);
      const error = o.error ?? (crash ? undefined : new MemoryKafkaError('INJECTED', `memory kafka: injected ${op} failure: ${call.what}`, true));
      return { error, written, crash };
    }
    return undefined;
  }
}
