/**
 * The cases of the embedded benchmark (`benchmarks/embedded.bench.ts`), each run in its own
 * child process (`benchmarks/embedded/child.ts`, or a baseline script):
 *
 *   node --expose-gc dist/benchmarks/embedded.bench.js --cases dedupe
 *
 * - `embedded`: the embedded runner over the generated NDJSON file (decode, normalise, steps,
 *   file outputs, LMDB state, checkpoints every 10k records);
 * - `baseline`: a hand-written dedupe script over the same file (`lib/bench/baselines/`);
 * - `task`: the operator alone: a `Task` with LMDB state over pre-generated in-memory events,
 *   checkpoint every 10k, outputs counted only (no file I/O besides LMDB);
 *   with `forgetEvery`, a `forget` request for the person of every n-th event is inserted there;
 * - `rx`: the pipeable RxJS operator over in-memory events with in-memory state;
 * - `heap`: JS heap per resident dedupe key (unique messageIds, nothing expires);
 * - `floor`: what a pipeline's input and outputs alone cost (`lib/bench/floor.ts`): its input read and
 *   parsed, its outputs (from an untimed run) written as JSON lines and fsynced, a record id
 *   each; the figure beside which the pipeline's own one means something.
 */
import { readFileSync } from 'node:fs';

export type CaseSpec =
  | { kind: 'embedded'; yaml: string }
  | { kind: 'baseline'; script: 'dedupe-map' | 'dedupe-lmdb' }
  | { kind: 'task'; yaml: string; /** Fold the events onto this many users (long histories per key). */ keys?: number; /** A forget request every this many events. */ forgetEvery?: number }
  | { kind: 'rx'; operator: 'dedupe' | 'joinIdentity' | 'sessionize' }
  | { kind: 'heap'; state: 'lmdb' | 'memory' | 'map' }
  | { kind: 'floor'; yaml: string };

export interface BenchCase {
  name: string;
  spec: CaseSpec;
  /** Cases whose output counts must agree (Tributary's dedupe and the baselines). */
  countsGroup?: 'dedupe';
  /** Run by another build's child (`--against`): its `dist` directory. */
  dist?: string;
}

const SOURCE = 'source: { key: [anonymousId, userId], allowedLateness: 1m }\n';
const pipeline = (name: string, ...steps: string[]) =>
  `name: ${name}\n${SOURCE}steps:${steps.length ? steps.map((s) => `\n  - ${s}`).join('') : ' []'}\n`;

const DEDUPE = 'dedupe: { ttl: 24h, output: duplicates }';
const JOIN_IDENTITY = 'joinIdentity: { output: identity-merges }';
const SESSIONIZE = 'sessionize: { key: [userId, anonymousId], gap: 30m, output: sessions }';
const AGGREGATES = 'aggregates: { views: { count: {}, where: { event: product_viewed } }, revenue: { sum: properties.revenue, where: { event: purchase } }, last: { last: timestamp } }';
const TUMBLING = `windowAggregate: { key: [userId, anonymousId], window: { tumbling: 1h }, ${AGGREGATES}, output: features }`;
const SLIDING = `windowAggregate: { key: [userId, anonymousId], window: { sliding: 90d }, ${AGGREGATES}, output: features }`;
/** The cart-abandonment pipeline's sliding step: only purchases count (most events count in no aggregate). */
const SLIDING_PURCHASES = 'windowAggregate: { key: [userId, anonymousId], window: { sliding: 90d }, aggregates: { orders: { count: {}, where: { event: purchase } }, revenue: { sum: properties.revenue, where: { event: purchase } }, lastOrderAt: { last: timestamp, where: { event: purchase } } }, output: customer-features }';
const TRIGGER = 'trigger: { key: [userId, anonymousId], rules: [ { name: cart-abandoned, absence: { first: { event: add_to_cart }, then: { event: purchase }, within: 30m }, cooldown: 24h } ], output: campaign-triggers }';
const FUNNEL = 'funnel: { key: [userId, anonymousId], steps: [ { name: view, where: { event: product_viewed } }, { name: cart, where: { event: add_to_cart } }, { name: checkout, where: { event: checkout_started } }, { name: purchase, where: { event: purchase } } ], within: 1h, output: funnels }';
const ATTRIBUTION = 'attribution: { key: [userId, anonymousId], touchpoints: { where: { $or: [ { event: { $in: [email_clicked, store_visit] } }, { type: { $in: [page, screen] }, name: Home } ] } }, conversion: { where: { event: purchase }, value: properties.revenue }, lookback: 7d, output: attributions, aggregateOutput: channel-credits }';
const SCORE = 'score: { field: scores.risk, logistic: { intercept: -1, coefficients: { properties.price: 0.01, properties.quantity: 0.2 } }, missing: zero }';
const CONSENT = 'consent: { key: [userId, anonymousId] }';
const CART_ABANDONMENT = readFileSync(new URL('../../../examples/cart-abandonment/pipeline.yaml', import.meta.url), 'utf8');

/** Every case, in the order they run (and are printed). */
export const CASES: BenchCase[] = [
  { name: 'embedded: no steps (decode, normalise, write)', spec: { kind: 'embedded', yaml: pipeline('bench-none') } },
  { name: 'embedded: dedupe (LMDB state)', spec: { kind: 'embedded', yaml: pipeline('bench-dedupe', DEDUPE) }, countsGroup: 'dedupe' },
  { name: 'baseline: hand-written dedupe, Map state', spec: { kind: 'baseline', script: 'dedupe-map' }, countsGroup: 'dedupe' },
  { name: 'baseline: hand-written dedupe, lmdb-js state', spec: { kind: 'baseline', script: 'dedupe-lmdb' }, countsGroup: 'dedupe' },
  { name: 'embedded: joinIdentity (LMDB state)', spec: { kind: 'embedded', yaml: pipeline('bench-identity', JOIN_IDENTITY) } },
  { name: 'embedded: sessionize by device/user (LMDB state)', spec: { kind: 'embedded', yaml: pipeline('bench-sessions', SESSIONIZE) } },
  { name: 'embedded: windowAggregate tumbling 1h, 3 aggregates (LMDB state)', spec: { kind: 'embedded', yaml: pipeline('bench-window', TUMBLING) } },
  { name: 'embedded: trigger cart abandonment (LMDB state)', spec: { kind: 'embedded', yaml: pipeline('bench-trigger', TRIGGER) } },
  {
    name: 'embedded: dedupe → joinIdentity → sessionize by person',
    spec: { kind: 'embedded', yaml: pipeline('bench-chain', DEDUPE, JOIN_IDENTITY, 'sessionize: { key: personId, gap: 30m, output: sessions }') },
  },
  { name: 'embedded: the cart-abandonment pipeline (examples/cart-abandonment)', spec: { kind: 'embedded', yaml: CART_ABANDONMENT } },
  { name: 'floor of the cart-abandonment pipeline: its input parsed, its outputs written (JSON lines, fsync) with their record ids; no steps, no state', spec: { kind: 'floor', yaml: CART_ABANDONMENT } },
  { name: 'operator alone (Task + LMDB state, no file I/O): dedupe', spec: { kind: 'task', yaml: pipeline('alone-dedupe', DEDUPE) } },
  { name: 'operator alone (Task + LMDB state, no file I/O): joinIdentity', spec: { kind: 'task', yaml: pipeline('alone-identity', JOIN_IDENTITY) } },
  { name: 'operator alone (Task + LMDB state, no file I/O): sessionize', spec: { kind: 'task', yaml: pipeline('alone-sessions', SESSIONIZE) } },
  { name: 'operator alone (Task + LMDB state, no file I/O): windowAggregate tumbling 1h', spec: { kind: 'task', yaml: pipeline('alone-tumbling', TUMBLING) } },
  { name: 'operator alone (Task + LMDB state, no file I/O): windowAggregate sliding 90d', spec: { kind: 'task', yaml: pipeline('alone-sliding', SLIDING) } },
  { name: 'operator alone (Task + LMDB state, no file I/O): windowAggregate sliding 90d, the events of 20 users (10k each)', spec: { kind: 'task', yaml: pipeline('alone-sliding-20', SLIDING), keys: 20 } },
  { name: "operator alone (Task + LMDB state, no file I/O): windowAggregate sliding 90d, the cart pipeline's aggregates (only purchases count)", spec: { kind: 'task', yaml: pipeline('alone-sliding-purchases', SLIDING_PURCHASES) } },
  { name: 'operator alone (Task + LMDB state, no file I/O): trigger', spec: { kind: 'task', yaml: pipeline('alone-trigger', TRIGGER) } },
  { name: 'operator alone (Task + LMDB state, no file I/O): funnel', spec: { kind: 'task', yaml: pipeline('alone-funnel', FUNNEL) } },
  { name: 'operator alone (Task + LMDB state, no file I/O): attribution', spec: { kind: 'task', yaml: pipeline('alone-attribution', ATTRIBUTION) } },
  { name: 'operator alone (Task + LMDB state, no file I/O): score', spec: { kind: 'task', yaml: pipeline('alone-score', SCORE) } },
  { name: 'operator alone (Task + LMDB state, no file I/O): consent', spec: { kind: 'task', yaml: pipeline('alone-consent', CONSENT) } },
  { name: 'RxJS dedupe operator alone (memory state)', spec: { kind: 'rx', operator: 'dedupe' } },
  { name: 'RxJS joinIdentity operator alone (memory state)', spec: { kind: 'rx', operator: 'joinIdentity' } },
  { name: 'RxJS sessionize operator alone (memory state)', spec: { kind: 'rx', operator: 'sessionize' } },
  { name: 'JS heap per resident dedupe key: Task + LMDB state', spec: { kind: 'heap', state: 'lmdb' } },
  { name: 'JS heap per resident dedupe key: Task + memory state', spec: { kind: 'heap', state: 'memory' } },
  { name: 'JS heap per resident dedupe key: plain Map<string, number>', spec: { kind: 'heap', state: 'map' } },
];

/** The cases whose name contains one of the comma-separated substrings (case-insensitive); all when none. */
export function selectCases(filter: string | undefined): BenchCase[] {
  const parts = (filter ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (parts.length === 0) return CASES;
  return CASES.filter((c) => parts.some((p) => c.name.toLowerCase().includes(p)));
}
