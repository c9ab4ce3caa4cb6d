/**
 * The query API of `trigger` ({@link triggerQuery}): what the step keeps of one key — pending
 * rule instances, cooldowns, segment membership, the frequency cap's records, consent — read
 * from its stores, for `GET /state/<step>/<key>`.
 */
import type { TributaryEvent } from '../../lib/event/event.js';
import type { KeyValueStore } from '../../lib/state/store.js';
import type { TriggerConfig, TriggerRule } from './options.js';
import { compact, copyState, pruneState, ruleOf, type KeyState, type RuleState } from './state.js';

/** An event a rule keeps, by its id and event time (epoch ms). */
export interface KeptEvent {
  messageId: string;
  timestamp: number;
}

/** One rule's state of the key (only the fields of its kind, and only when non-empty). */
export interface RuleQueryState {
  /** The rule's name. */
  name: string;
  kind: TriggerRule['kind'];
  /** absence: instances waiting for their `then`; each fires once the watermark passes `firesAt` (= timestamp + within). */
  pending?: Array<KeptEvent & { firesAt: number }>;
  /** sequence: `first` events a `then` at or before `expiresAt` (= timestamp + within) completes. */
  firsts?: Array<KeptEvent & { expiresAt: number }>;
  /** sequence: `then` events that arrived before their `first` (kept until the watermark passes them). */
  thens?: KeptEvent[];
  /** threshold: the matching events counted so far, per `per` value (`null` without `per`; long or odd values hashed); each counts until `expiresAt`. */
  matches?: Array<{ per: string | null; events: Array<KeptEvent & { expiresAt: number }> }>;
  /** segment: whether the key is in the segment, and the event time of the event that last decided it. */
  segment?: { inside: boolean; since: number };
  /** cooldown: the rule's last record for this key; none of this rule before `until` (= lastFiredAt + cooldown). */
  cooldown?: { lastFiredAt: number; until: number };
}

/** What `GET /state/<trigger step>/<key>` returns. */
export interface TriggerKeyState {
  key: string;
  /** The rules with state for this key, in the order of the step's `rules`. */
  rules: RuleQueryState[];
  /** frequencyCap: the key's records that still count against `max`, each until `expiresAt` (= firedAt + per). */
  frequencyCap?: { max: number; sent: Array<{ firedAt: number; triggerId: string; expiresAt: number }> };
  /** consent: the latest consent object seen for the key, and the event time it came with. */
  consent?: { timestamp: number; flags: unknown };
}

/** The stores the query reads. */
export interface TriggerQueryStores {
  keys: KeyValueStore<string, KeyState>;
  segments: KeyValueStore<readonly [string, string], { in: boolean; t: number }>;
}

const kept = (e: TributaryEvent): KeptEvent => ({ messageId: e.messageId, timestamp: e.timestamp });

function ruleView(rule: TriggerRule, r: RuleState | undefined, segment: { in: boolean; t: number } | undefined): RuleQueryState | undefined {
  const view: RuleQueryState = { name: rule.name, kind: rule.kind };
  let any = false;
  if (rule.kind === 'absence' && r?.pending?.length) {
    view.pending = r.pending.map((e) => ({ ...kept(e), firesAt: e.timestamp + rule.withinMs }));
    any = true;
  }
  if (rule.kind === 'sequence') {
    if (r?.firsts?.length) view.firsts = r.firsts.map((e) => ({ ...kept(e), expiresAt: e.timestamp + rule.withinMs }));
    if (r?.thens?.length) view.thens = r.thens.map(kept);
    any ||= view.firsts !== undefined || view.thens !== undefined;
  }
  if (rule.kind === 'threshold' && r?.matches?.length) {
    view.matches = r.matches.map(([per, list]) => ({ per: rule.per === undefined ? null : per, events: list.map((e) => ({ ...kept(e), expiresAt: e.timestamp + rule.withinMs })) }));
    any = true;
  }
  if (rule.kind === 'segment' && segment) {
    view.segment = { inside: segment.in, since: segment.t };
    any = true;
  }
  const cooldownMs = rule.common.cooldownMs;
  if (r?.fired !== undefined && cooldownMs !== undefined) {
    view.cooldown = { lastFiredAt: r.fired, until: r.fired + cooldownMs };
    any = true;
  }
  return any ? view : undefined;
}

/**
 * The key's state, or `undefined` when the step keeps nothing of it (never seen, or everything
 * fired, was cancelled or expired: facts whose expiry the watermark passed are left out, as the
 * logic drops them). The key is the trigger key's value as the step reads it from the event (the
 * first non-null of its `key` paths: by default the `personId`, else the `userId`, else the
 * `anonymousId`). Absence instances that fired are gone; a rule with a `cooldown` that fired
 * shows `cooldown` until it ends.
 *
 * @example
 * ```ts
 * // GET /state/trigger/p1 after an add_to_cart of p1 at 0 (absence rule cart-abandoned, within 30m):
 * triggerQuery(config, { keys: driver.store('trigger', 'keys'), segments: driver.store('trigger', 'segments') }, 'p1', watermark);
 * // { key: 'p1', rules: [{ name: 'cart-abandoned', kind: 'absence', pending: [{ messageId: 'c1', timestamp: 0, firesAt: 1800000 }] }] }
 * ```
 */
export function triggerQuery(config: TriggerConfig, stores: TriggerQueryStores, key: string, watermark: number): TriggerKeyState | undefined {
  const stored = stores.keys.get(key);
  // A private copy with what the watermark expired removed (the stored value is never changed).
  const s = copyState(config, stored);
  if (watermark !== -Infinity) pruneState(config, s, watermark);
  compact(s);
  const rules: RuleQueryState[] = [];
  for (const rule of config.rules) {
    const view = ruleView(rule, ruleOf(s, rule.name), rule.kind === 'segment' ? stores.segments.get([rule.name, key]) : undefined);
    if (view) rules.push(view);
  }
  const out: TriggerKeyState = { key, rules };
  if (config.cap && s.sent?.length) {
    const perMs = config.cap.perMs;
    out.frequencyCap = { max: config.cap.max, sent: s.sent.map(([firedAt, triggerId]) => ({ firedAt, triggerId, expiresAt: firedAt + perMs })) };
  }
  if (s.consent) out.consent = { timestamp: s.consent.t, flags: structuredClone(s.consent.flags) };
  return rules.length > 0 || out.frequencyCap || out.consent ? out : undefined;
}
