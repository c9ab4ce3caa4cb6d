/**
 * The output records of `joinIdentity`: the event it passes on ({@link PersonEvent}) and the
 * merge and refusal records of the identity-merges stream ({@link IdentityMergeRecord}).
 */
import type { TributaryEvent } from '../../lib/event/event.js';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import type { Identifier } from './identifiers.js';

/** Why a link was refused. */
export type RefusalReason = 'max-user-ids' | 'max-identifiers-per-person' | 'max-links-per-identifier';

/** An event after joinIdentity. */
export type PersonEvent = TributaryEvent & { personId: string };

/** A record on the identity-merges stream. */
export interface IdentityMergeRecord extends DerivedRecord {
  /** Deterministic: the same merge or refusal has the same id on every replay. */
  mergeId: string;
  status: 'merged' | 'refused';
  /** The survivor (for `refused`: the person that would have survived). */
  personId: string;
  /** The absorbed person (for `refused`: the one that would have been absorbed). */
  mergedPersonId: string;
  /** The linking pair `[anchor side, other side]`; for a provisional-id correction, the anchor alone. */
  identifiers: Identifier[];
  /** The event that caused it. */
  messageId: string;
  /** Its event time. */
  timestamp: number;
  /** Its `type` (`identify`, `alias`, `track`, …). */
  eventType: string;
  /** Only on `refused`. */
  reason?: RefusalReason;
  /** Only on `refused`: what exceeded which limit. */
  detail?: string;
  /** Only on a Kafka-mode correction of a provisional person id a lookup handed out. */
  provisional?: true;
}
