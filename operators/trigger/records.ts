/**
 * How `trigger` turns a fired rule (a candidate) into an action record, or why not:
 *
 * - **Candidates → action records.** A rule that fires makes a candidate; it becomes a record
 *   after, in this order: channel selection (the first of `channels` whose `when` matches the
 *   subject event — the last cause — and whose consent is given; no `channels`: `channel: null`),
 *   consent (see below), `cooldown` (per rule and key: suppressed when a record of this rule and
 *   key has `firedAt` less than `cooldown` before or after it — symmetric, because an
 *   out-of-order B can fire a sequence earlier than the last record), `frequencyCap` (per key across
 *   rules: suppressed when `max` records of this key have `firedAt` in `(firedAt − per, firedAt]`).
 *   A suppressed candidate is counted with `ctx.count('suppressed-<reason>')`
 *   (`tributary_step_outcomes_total{outcome}`) — reasons
 *   `no-channel`, `no-consent`, `cooldown`, `frequency-cap` — and, when `suppressedOutput` is
 *   set, written there with `reason`. Suppressed candidates do not start a cooldown or count
 *   against the cap. Never silent.
 * - **Consent.** The latest known consent object of the key (the `consent.field` of the latest
 *   event by event time that carries one, default `context.consent`). With `consent.flag`, every
 *   record needs `flag: true`; otherwise the chosen channel's flag must be `true`. Unknown consent
 *   suppresses. It is read when the candidate is made (for absence: when the watermark passes).
 * - **Record** (`TriggerRecord`): `triggerId = deriveId('trigger', rule, key, …)` of the causes
 *   that define the instance (absence: A; sequence: B; threshold: per value and the n causes;
 *   segment: the event and the transition), so replays and restarts give the same ids.
 * - **Counting.** Every event passes this step; suppressions are outcomes, not drops, so the run
 *   summary shows them as `counted suppressed-<reason> N`; fired records are the step's
 *   `records_out{stream}`.
 */
import type { TributaryEvent } from '../../lib/event/event.js';
import { getPath } from '../../lib/event/paths.js';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import { deriveId } from '../../lib/operator/ids.js';
import type { TriggerConfig, TriggerRule } from './options.js';
import { beforeEnd, ruleOf, type KeyState } from './state.js';

/** A record of the triggers output. */
export interface TriggerRecord extends DerivedRecord {
  triggerId: string;
  rule: string;
  key: string;
  /** `personId` of the subject event, when it has one. */
  personId?: string;
  /** Event time at which the rule fired. */
  firedAt: number;
  /** messageIds of the causing events, in event-time order. */
  causes: string[];
  /** The selected channel, null when the rule lists none. */
  channel: string | null;
  payload: Record<string, unknown>;
  /** Segment rules only: which transition fired. */
  transition?: 'entry' | 'exit';
}

/** Why a candidate did not become a record. */
export type SuppressionReason = 'no-channel' | 'no-consent' | 'cooldown' | 'frequency-cap';

/** A suppressed candidate as written to `suppressedOutput`. */
export interface SuppressedRecord extends TriggerRecord {
  reason: SuppressionReason;
}

/** The record a rule that fired makes of its causes (`channel` still null: {@link gate} selects it). */
export function candidateRecord(rule: TriggerRule, key: string, firedAt: number, causes: TributaryEvent[], idParts: string[], transition?: 'entry' | 'exit'): TriggerRecord {
  const subject = causes[causes.length - 1] as TributaryEvent;
  const payload: Record<string, unknown> = {};
  for (const [field, path] of rule.common.payload) payload[field] = getPath(subject, path) ?? null;
  const record: TriggerRecord = {
    triggerId: deriveId('trigger', rule.name, key, ...idParts),
    rule: rule.name,
    key,
    ...(typeof subject.personId === 'string' ? { personId: subject.personId } : {}),
    firedAt,
    causes: [...causes].sort((x, y) => x.timestamp - y.timestamp || (x.messageId < y.messageId ? -1 : 1)).map((e) => e.messageId),
    channel: null,
    payload,
    ...(transition ? { transition } : {}),
  };
  return record;
}

/** Selects the channel (sets `record.channel`) and applies consent, cooldown and cap; `s` is the key's state. */
export function gate(config: TriggerConfig, rule: TriggerRule, s: KeyState, subject: TributaryEvent, record: TriggerRecord): SuppressionReason | undefined {
  const consent = config.consent;
  const flags = consent ? (s.consent?.flags as Record<string, unknown> | undefined) : undefined;
  const allowed = (flag: string) => flags !== undefined && Object.hasOwn(flags, flag) && flags[flag] === true;
  const channels = rule.common.channels;
  if (channels) {
    let matched = false;
    let chosen: string | undefined;
    for (const c of channels) {
      if (c.when && !c.when(subject)) continue;
      matched = true;
      if (consent && consent.flag === undefined && !allowed(c.channel)) continue;
      chosen = c.channel;
      break;
    }
    if (chosen === undefined) return matched ? 'no-consent' : 'no-channel';
    record.channel = chosen;
  } else if (consent && consent.flag === undefined) return 'no-consent';
  if (consent?.flag !== undefined && !allowed(consent.flag)) return 'no-consent';
  const { cooldownMs } = rule.common;
  if (cooldownMs !== undefined) {
    const last = ruleOf(s, rule.name)?.fired;
    if (last !== undefined && Math.abs(record.firedAt - last) < cooldownMs) return 'cooldown';
  }
  const cap = config.cap;
  if (cap) {
    // Records of the key with firedAt in (firedAt − per, firedAt].
    let n = 0;
    for (const [at, id] of s.sent ?? []) {
      if (at >= record.firedAt - cap.perMs + 1 && beforeEnd(at, id, record.firedAt)) n++;
    }
    if (n >= cap.max) return 'frequency-cap';
  }
  return undefined;
}
