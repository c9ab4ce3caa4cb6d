/**
 * The state of `joinIdentity`: the shapes of its five stores ({@link IdentityState}), the part
 * every Kafka task reads as the global table ({@link IdentityTable}), and how they are opened.
 */
import type { OperatorContext } from '../../lib/operator/contract.js';
import type { KeyValueStore } from '../../lib/state/store.js';
import type { Identifier } from './identifiers.js';
import type { RefusalReason } from './records.js';

/** `ids` store value: the identifier's person (always the survivor) and when it was first seen. */
export interface IdentifierEntry {
  personId: string;
  /** Least event time the identifier was seen at. */
  firstSeen: number;
}

/** `persons` store value. */
export interface PersonRecord {
  personId: string;
  identifiers: Identifier[];
  /** The `userId:` identifiers among `identifiers`. */
  userIds: Identifier[];
  /** Least `firstSeen` of its identifiers. */
  firstSeen: number;
  /** Every person id absorbed into this one, directly or through earlier merges. */
  absorbed: string[];
}

/** The part of the state every Kafka task reads (the global table); written only by the resolver. */
export interface IdentityTable {
  ids: KeyValueStore<string, IdentifierEntry>;
  absorbed: KeyValueStore<string, string>;
}

/** All state of the step; the resolver's own part stays on its single partition. */
export interface IdentityState extends IdentityTable {
  persons: KeyValueStore<string, PersonRecord>;
  links: KeyValueStore<string, number>;
  refused: KeyValueStore<[string, string], RefusalReason>;
}

/**
 * Opens the step's stores from an operator context.
 *
 * @example
 * ```ts
 * const state = openIdentityState(recordingContext('joinIdentity'));
 * state.ids.get('userId:u1'); // { personId, firstSeen } or undefined
 * ```
 */
export function openIdentityState(ctx: Pick<OperatorContext, 'store'>): IdentityState {
  return {
    ids: ctx.store<string, IdentifierEntry>('ids'),
    absorbed: ctx.store<string, string>('absorbed'),
    persons: ctx.store<string, PersonRecord>('persons'),
    links: ctx.store<string, number>('links'),
    refused: ctx.store<[string, string], RefusalReason>('refused'),
  };
}
