/**
 * A synthetic, realistic behavioral event stream (`tributary generate`), deterministic from a
 * seed, for the tests and benchmarks of every operator.
 *
 * Model: a population of customers, each with 1–3 devices (web or app, one `anonymousId`
 * each), comes back in sessions separated by hours to days (fewer at night); inside a
 * session events are seconds to minutes apart (never more than 25 minutes, so a 30-minute
 * gap always separates sessions). A web/app session lands on a page/screen and then browses:
 * `product_viewed` (a catalogue with Zipf-like popularity), `products_searched`,
 * category pages, `add_to_cart`, sometimes `remove_from_cart`, `checkout_started` and a
 * `purchase`, or ends with the cart abandoned (carts survive to a later session, or expire).
 * A device is anonymous until the customer logs in on it (`identify` with anonymousId, userId
 * and `traits.email`; always before a checkout); later events of that device carry both ids.
 * Known customers who consent to email click newsletters (`email_clicked`, channel `email`,
 * userId only) and land on the site from them; some customers visit stores (`store_visit`,
 * sometimes a store `purchase`, channel `store`, userId only). Customers with a loyalty card
 * are known in stores by their card id (`loyalty-N`) until they link it online (`alias`
 * previousId=card id → userId); a few sign-ups also `alias` their anonymousId. Consent flags
 * (`context.consent.email/push`) are on every event and change now and then
 * (`consent_updated`).
 *
 * Events are produced in event-time order by a priority queue of customers keyed by their next
 * event time, then delivered in ARRIVAL order through a small reorder buffer that injects the
 * configured duplicates, out-of-order and late arrivals. Memory is O(customers + catalogue +
 * events in flight), independent of the stream length.
 */
import type { TributaryEvent } from '../event/event.js';
import { Random, WeightedTable, hash32 } from './random.js';

/** Options of {@link generateEvents}. Rates are fractions of the events yielded. */
export interface GenerateOptions {
  /** Exactly this many events are yielded (duplicates included). */
  events: number;
  /** Same seed and options → identical stream. */
  seed: number;
  /** Event time of the beginning of the stream, epoch ms. Default 2026-01-01T00:00:00Z. */
  start?: number;
  /** Size of the customer population. Default `max(1, round(events / 40))`. */
  customers?: number;
  /** Size of the product catalogue. Default 2000. */
  products?: number;
  /**
   * Fraction of yielded events that are re-sends of an earlier event: same `messageId`,
   * identical content, arriving 1ms–60s after the original. Default 0.01.
   */
  duplicateRate?: number;
  /**
   * Fraction of yielded events that arrive after an event with a later timestamp, by at most
   * `maxDisorderMs`. Default 0.05.
   */
  outOfOrderRate?: number;
  /** Bound of the out-of-order disorder. Default 30 000 (30s). */
  maxDisorderMs?: number;
  /**
   * Fraction of yielded events that arrive after an event more than `lateByMs` newer (late
   * for any pipeline whose `allowedLateness` ≤ `lateByMs`). Default 0.002.
   */
  lateRate?: number;
  /**
   * How late a late event is: it arrives right after the first event that is between
   * `lateByMs` and about `2 × lateByMs` newer. Default 600 000 (10m).
   */
  lateByMs?: number;
}

/**
 * Ground truth about a generated stream, observed on the events as they are yielded. The
 * object returned by {@link generateWithStats} is updated live and is final once the stream
 * is exhausted. `outOfOrder`, `late` and `duplicates` are disjoint; `events` =
 * `duplicates` + the sum of `eventCounts`.
 */
export interface GenerateStats {
  /** Events yielded so far. */
  events: number;
  /** Yielded events whose `messageId` was already yielded (identical content). */
  duplicates: number;
  /**
   * Non-duplicate events yielded after an event with a later timestamp, by at most `lateByMs`
   * (in practice by at most `maxDisorderMs`, or up to `lateByMs` for a late-intended event
   * that did not overtake enough traffic).
   */
  outOfOrder: number;
  /** Non-duplicate events yielded after an event more than `lateByMs` newer. */
  late: number;
  /** Greatest observed disorder (max timestamp yielded before an event − its timestamp), ms. */
  maxDisorderMs: number;
  /** Distinct customers (persons) that produced at least one event. */
  customers: number;
  /**
   * Customer sessions started (consecutive events of one customer ≤ 25m apart, sessions
   * ≥ 45m apart). Per person, i.e. what `sessionize` by a perfectly resolved `personId` with a
   * 30m gap would find.
   */
  sessions: number;
  /** Distinct events per `event` name (track) or `type` (other calls); duplicates excluded. */
  eventCounts: Record<string, number>;
  /** Smallest and largest event time generated, epoch ms (null before the first event). */
  firstTimestamp: number | null;
  lastTimestamp: number | null;
  /** Peak number of events held in the reorder buffer (bounded-memory evidence). */
  maxBuffered: number;
}

/** 2026-01-01T00:00:00Z */
export const DEFAULT_START = Date.UTC(2026, 0, 1);

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MAX_IN_SESSION_GAP = 25 * MINUTE;
const MIN_SESSION_GAP = 45 * MINUTE;
const MAX_SESSION_GAP = 45 * DAY;
const MAX_SESSION_STEPS = 60;
/** Measured mean event time per event of one customer (≈ 5.9h); spreads first visits over the stream. */
const MS_PER_CUSTOMER_EVENT = 5.9 * HOUR;

const CATEGORIES = [
  'electronics', 'computers', 'appliances', 'apparel', 'shoes', 'beauty',
  'home', 'kitchen', 'sports', 'toys', 'books', 'grocery',
] as const;
/** Median price per category (same order as CATEGORIES). */
const CATEGORY_PRICE = [180, 650, 320, 35, 70, 22, 45, 30, 55, 25, 14, 6];
const CATEGORY_WEIGHT = [12, 6, 5, 14, 8, 9, 10, 8, 7, 6, 8, 7];
const SEARCH_TERMS: readonly (readonly string[])[] = [
  ['headphones', 'smartphone', 'tv', 'camera'], ['laptop', 'monitor', 'keyboard'],
  ['washing machine', 'fridge', 'vacuum'], ['jacket', 'dress', 't-shirt', 'jeans'],
  ['sneakers', 'boots', 'sandals'], ['perfume', 'lipstick', 'shampoo'],
  ['lamp', 'rug', 'pillow'], ['coffee maker', 'knife set', 'pan'],
  ['yoga mat', 'bike', 'dumbbells'], ['lego', 'puzzle', 'doll'],
  ['novel', 'cookbook', 'comics'], ['coffee', 'tea', 'chocolate'],
];
const STORES = 24;

// Actions: what a customer's next event is.
const A_START = 0;
const A_LANDING = 1;
const A_PRODUCT = 2;
const A_CATEGORY = 3;
const A_SEARCH = 4;
const A_ADD = 5;
const A_REMOVE = 6;
const A_CHECKOUT_LOGIN = 7;
const A_CHECKOUT = 8;
const A_PURCHASE = 9;
const A_LOGIN = 10;
const A_ALIAS_ANON = 11;
const A_ALIAS_LOYALTY = 12;
const A_CONSENT = 13;
const A_STORE_PURCHASE = 14;
const A_END = 15; // decision only: the session ends

// What the previous event of a session was (shapes the next decision).
const P_OTHER = 0;
const P_PRODUCT = 1;
const P_ADD = 2;
const P_CHECKOUT = 3;

interface Device {
  readonly anonymousId: string;
  readonly kind: 'web' | 'app';
  readonly deviceType: string;
  identified: boolean;
}

interface CartItem {
  readonly product: number;
  quantity: number;
}

/** The empty cart, shared (most customers' carts are empty most of the time); never mutated. */
const NO_CART: CartItem[] = [];

interface Customer {
  readonly index: number;
  readonly userId: string;
  readonly devices: readonly Device[];
  /** Devices in use so far (a prefix of `devices`). */
  unlocked: number;
  consentEmail: boolean;
  consentPush: boolean;
  readonly loyaltyId: string | null;
  aliased: boolean;
  /** Logged in at least once (the shop knows the userId). */
  known: boolean;
  readonly homeStore: number;
  /** Per-customer propensity multipliers. */
  readonly buyer: number;
  readonly storeShare: number;
  cart: CartItem[];
  started: boolean;
  // Scheduling
  next: number;
  action: number;
  // Current session
  device: Device | null;
  channel: string;
  steps: number;
  prev: number;
  lastProduct: number;
  campaign: string | null;
  /** Action to resume after an interposed event (login during checkout), or -1. */
  resume: number;
}

interface Pending {
  readonly event: TributaryEvent;
  readonly arrival: number;
  readonly seq: number;
  /** 0 none, 1 out-of-order, 2 late, 3 duplicate copy. */
  readonly intent: number;
}

const I_NONE = 0;
const I_OUT_OF_ORDER = 1;
const I_LATE = 2;
const I_DUPLICATE = 3;

function checkRate(name: string, value: number, max: number): number {
  if (!(value >= 0 && value <= max)) throw new RangeError(`${name} must be between 0 and ${max}, got ${value}`);
  return value;
}

function checkInt(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${value}`);
  return value;
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

/** A binary min-heap over a comparator, with in-place replacement of the top. */
class MinHeap<T> {
  readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    let i = a.push(item) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent] as T;
      if (!this.less(item, p)) break;
      a[i] = p;
      i = parent;
    }
    a[i] = item;
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** Restores the heap after the top item's key grew. */
  siftDown(i: number): void {
    const a = this.items;
    const n = a.length;
    const item = a[i] as T;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && this.less(a[right] as T, a[child] as T)) child = right;
      const c = a[child] as T;
      if (!this.less(c, item)) break;
      a[i] = c;
      i = child;
    }
    a[i] = item;
  }
}

/**
 * The customers' schedule: a binary min-heap of customer indices keyed by (next event time,
 * index), in typed arrays (the hot path of the generator: one sift per event).
 */
class Schedule {
  private readonly time: Float64Array;
  private readonly id: Int32Array;
  private n = 0;

  constructor(capacity: number) {
    this.time = new Float64Array(capacity);
    this.id = new Int32Array(capacity);
  }

  /** Index of the customer due next. */
  get top(): number {
    return this.id[0] as number;
  }

  /** Event time of the next event. */
  get topTime(): number {
    return this.time[0] as number;
  }

  add(customer: number, time: number): void {
    const { time: tm, id } = this;
    let i = this.n++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = tm[parent] as number;
      if (pt < time || (pt === time && (id[parent] as number) < customer)) break;
      tm[i] = pt;
      id[i] = id[parent] as number;
      i = parent;
    }
    tm[i] = time;
    id[i] = customer;
  }

  /** Moves the top customer to its new (later) time. */
  rescheduleTop(time: number): void {
    const { time: tm, id } = this;
    const n = this.n;
    const customer = id[0] as number;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let ct = tm[child] as number;
      let cid = id[child] as number;
      const right = child + 1;
      if (right < n) {
        const rt = tm[right] as number;
        const rid = id[right] as number;
        if (rt < ct || (rt === ct && rid < cid)) {
          child = right;
          ct = rt;
          cid = rid;
        }
      }
      if (time < ct || (time === ct && customer < cid)) break;
      tm[i] = ct;
      id[i] = cid;
      i = child;
    }
    tm[i] = time;
    id[i] = customer;
  }
}

/** Options with defaults applied. */
interface Resolved {
  events: number;
  seed: number;
  start: number;
  customers: number;
  products: number;
  duplicateRate: number;
  outOfOrderRate: number;
  maxDisorderMs: number;
  lateRate: number;
  lateByMs: number;
}

function resolve(o: GenerateOptions): Resolved {
  const events = checkInt('events', o.events, 0);
  if (!Number.isFinite(o.seed)) throw new RangeError(`seed must be a finite number, got ${o.seed}`);
  const start = o.start ?? DEFAULT_START;
  if (!Number.isSafeInteger(start)) throw new RangeError(`start must be epoch milliseconds, got ${start}`);
  const r: Resolved = {
    events,
    seed: o.seed,
    start,
    customers: checkInt('customers', o.customers ?? Math.max(1, Math.round(events / 40)), 1),
    products: checkInt('products', o.products ?? 2000, 1),
    duplicateRate: checkRate('duplicateRate', o.duplicateRate ?? 0.01, 0.5),
    outOfOrderRate: checkRate('outOfOrderRate', o.outOfOrderRate ?? 0.05, 0.5),
    maxDisorderMs: checkInt('maxDisorderMs', o.maxDisorderMs ?? 30_000, 1),
    lateRate: checkRate('lateRate', o.lateRate ?? 0.002, 0.5),
    lateByMs: checkInt('lateByMs', o.lateByMs ?? 600_000, 1),
  };
  if (r.duplicateRate + r.outOfOrderRate + r.lateRate > 0.9) {
    throw new RangeError('duplicateRate + outOfOrderRate + lateRate must not exceed 0.9');
  }
  return r;
}

function emptyStats(): GenerateStats {
  return {
    events: 0, duplicates: 0, outOfOrder: 0, late: 0, maxDisorderMs: 0, customers: 0, sessions: 0,
    eventCounts: {}, firstTimestamp: null, lastTimestamp: null, maxBuffered: 0,
  };
}

/**
 * A deterministic synthetic behavioral event stream, in arrival order. Streams: O(customers)
 * memory whatever the number of events. The generator's return value is the final
 * {@link GenerateStats}.
 *
 * @example
 * ```ts
 * import { generateEvents } from 'tributary/lib/generate/index.js';
 *
 * for (const e of generateEvents({ events: 10_000, seed: 42 })) {
 *   // e.g. { messageId: 'g-42-17', type: 'track', event: 'product_viewed', userId: null,
 *   //        anonymousId: 'a-…', timestamp: 1767225600000, properties: { productId: 'p-…', … },
 *   //        context: { channel: 'web', consent: { email: true, push: false }, … } }
 * }
 * ```
 */
export function generateEvents(options: GenerateOptions): Generator<TributaryEvent, GenerateStats, undefined> {
  return run(resolve(options), emptyStats());
}

/**
 * {@link generateEvents} plus its ground truth: `stats` is updated as events are yielded and
 * is final once `events` is exhausted.
 *
 * @example
 * ```ts
 * const { events, stats } = generateWithStats({ events: 100_000, seed: 7 });
 * const seen = new Set<string>();
 * let repeats = 0;
 * for (const e of events) if (seen.has(e.messageId)) repeats++; else seen.add(e.messageId);
 * // repeats === stats.duplicates; stats.late, stats.outOfOrder, stats.customers, stats.sessions …
 * ```
 */
export function generateWithStats(options: GenerateOptions): { events: Generator<TributaryEvent, GenerateStats, undefined>; stats: GenerateStats } {
  const stats = emptyStats();
  return { events: run(resolve(options), stats), stats };
}

function* run(o: Resolved, stats: GenerateStats): Generator<TributaryEvent, GenerateStats, undefined> {
  if (o.events === 0) return stats;
  const rng = new Random(hash32(o.seed, 'tributary-generate'));
  const seed = o.seed;
  const counts = stats.eventCounts;

  // ---- Catalogue: products by popularity rank, Zipf(1.07) over ranks.
  const nProducts = o.products;
  const productIds: string[] = new Array<string>(nProducts);
  const productCategory = new Uint8Array(nProducts);
  const productPrice = new Float64Array(nProducts);
  const byCategory: number[][] = CATEGORIES.map(() => []);
  const categoryTable = new WeightedTable(CATEGORY_WEIGHT);
  for (let p = 0; p < nProducts; p++) {
    productIds[p] = `p-${100000 + (hash32(seed, 'product', p) % 900000)}${p.toString(36)}`;
    const cat = categoryTable.sample(rng);
    productCategory[p] = cat;
    productPrice[p] = Math.max(99, Math.round(rng.logNormal(CATEGORY_PRICE[cat] as number, 0.6) * 100) - 1) / 100; // whole cents, ≥ 0.99
    (byCategory[cat] as number[]).push(p);
  }
  const popularity = WeightedTable.zipf(nProducts, 1.07);

  // ---- Customers, scheduled by their next event time.
  const spread = Math.max(HOUR, 0.6 * (o.events / o.customers) * MS_PER_CUSTOMER_EVENT);
  const customers: Customer[] = [];
  const schedule = new Schedule(o.customers);
  for (let i = 0; i < o.customers; i++) {
    const c = newCustomer(i);
    customers.push(c);
    schedule.add(i, c.next);
  }

  function newCustomer(i: number): Customer {
    const nDevices = rng.weightedIndex([50, 35, 15]) + 1;
    const devices: Device[] = [];
    let hasApp = false;
    for (let d = 0; d < nDevices; d++) {
      const app = rng.chance(0.35);
      hasApp ||= app;
      const mobileWeb = rng.chance(0.5);
      devices.push({
        anonymousId: `a-${hex8(hash32(seed, 'anon', i, d, 0))}${hex8(hash32(seed, 'anon', i, d, 1))}`,
        kind: app ? 'app' : 'web',
        deviceType: app ? (rng.chance(0.55) ? 'ios' : 'android') : mobileWeb ? 'mobile' : 'desktop',
        identified: false,
      });
    }
    const loyal = rng.chance(0.15);
    return {
      index: i,
      userId: `user-${i + 1}`,
      devices,
      unlocked: 1,
      consentEmail: rng.chance(0.6),
      consentPush: hasApp && rng.chance(0.5),
      loyaltyId: loyal ? `loyalty-${i + 1}` : null,
      aliased: false,
      known: false,
      homeStore: rng.int(1, STORES),
      buyer: rng.logNormal(1, 0.5),
      storeShare: loyal ? 0.3 : 0.06,
      cart: NO_CART,
      started: false,
      next: o.start + Math.floor(rng.next() * spread),
      action: A_START,
      device: null,
      channel: 'web',
      steps: 0,
      prev: P_OTHER,
      lastProduct: -1,
      campaign: null,
      resume: -1,
    };
  }

  // ---- Event construction.
  let ordinal = 0;
  let orders = 0;

  function context(c: Customer, channel: string, device: Device | null): Record<string, unknown> {
    const ctx: Record<string, unknown> = {
      channel,
      consent: { email: c.consentEmail, push: c.consentPush },
    };
    if (device !== null) ctx.device = { type: device.deviceType };
    if (c.campaign !== null && channel !== 'store') ctx.campaign = { name: c.campaign, source: 'newsletter', medium: 'email' };
    return ctx;
  }

  /** An event from the customer's current session device (web/app). */
  function deviceEvent(c: Customer, t: number, type: TributaryEvent['type'], name: string | null, properties: Record<string, unknown>): TributaryEvent {
    const d = c.device as Device;
    if (type === 'track') {
      return {
        messageId: `g-${seed}-${ordinal++}`,
        type,
        event: name,
        userId: d.identified ? c.userId : null,
        anonymousId: d.anonymousId,
        timestamp: t,
        properties,
        context: context(c, c.channel, d),
      };
    }
    return {
      messageId: `g-${seed}-${ordinal++}`,
      type,
      name,
      userId: d.identified ? c.userId : null,
      anonymousId: d.anonymousId,
      timestamp: t,
      properties,
      context: context(c, c.channel, d),
    };
  }

  /** A server-side event (email, store) that carries the userId only. */
  function userEvent(c: Customer, t: number, userId: string, channel: string, name: string, properties: Record<string, unknown>): TributaryEvent {
    return {
      messageId: `g-${seed}-${ordinal++}`,
      type: 'track',
      event: name,
      userId,
      anonymousId: null,
      timestamp: t,
      properties,
      context: context(c, channel, null),
    };
  }

  function productProps(p: number, extra?: Record<string, unknown>): Record<string, unknown> {
    const props: Record<string, unknown> = {
      productId: productIds[p],
      category: CATEGORIES[productCategory[p] as number],
      price: productPrice[p],
      currency: 'EUR',
    };
    return extra === undefined ? props : Object.assign(props, extra);
  }

  function pickProduct(c: Customer): number {
    if (c.lastProduct >= 0 && rng.chance(0.45)) {
      // Something similar: same category, skewed to the popular end.
      const list = byCategory[productCategory[c.lastProduct] as number] as number[];
      const k = Math.min(Math.floor(rng.next() * list.length), Math.floor(rng.next() * list.length));
      return list[k] as number;
    }
    return popularity.sample(rng);
  }

  function orderProps(items: readonly CartItem[], extra: Record<string, unknown>): Record<string, unknown> {
    let revenue = 0;
    const products = items.map((it) => {
      const price = productPrice[it.product] as number;
      revenue += price * it.quantity;
      return { productId: productIds[it.product], category: CATEGORIES[productCategory[it.product] as number], price, quantity: it.quantity };
    });
    return { orderId: `o-${seed}-${++orders}`, revenue: Math.round(revenue * 100) / 100, currency: 'EUR', products, ...extra };
  }

  function storeUserId(c: Customer): string {
    return c.loyaltyId !== null && !c.aliased ? c.loyaltyId : c.userId;
  }

  function gap(median: number, sigma: number): number {
    return Math.min(MAX_IN_SESSION_GAP, Math.max(SECOND, Math.round(rng.logNormal(median, sigma))));
  }

  function plan(c: Customer, t: number, action: number, delay: number): void {
    c.action = action;
    c.next = t + delay;
  }

  function endSession(c: Customer, t: number): void {
    c.device = null;
    c.campaign = null;
    let next = t + Math.min(MAX_SESSION_GAP, Math.max(MIN_SESSION_GAP, Math.round(rng.logNormal(18 * HOUR, 1.2))));
    // Fewer sessions at night (UTC 00–06): most are pushed into the day.
    const hour = Math.floor((next % DAY) / HOUR);
    if (hour < 6 && rng.chance(0.75)) next += (6 - hour) * HOUR + Math.floor(rng.next() * 4 * HOUR);
    plan(c, t, A_START, next - t);
  }

  const weights = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const choices = [A_PRODUCT, A_CATEGORY, A_SEARCH, A_ADD, A_CHECKOUT_LOGIN, A_REMOVE, A_LOGIN, A_CONSENT, A_ALIAS_LOYALTY, A_END];

  /** Decides and schedules the next browsing step of a web/app session. */
  function browse(c: Customer, t: number): void {
    c.steps++;
    if (c.steps >= MAX_SESSION_STEPS) return endSession(c, t);
    const d = c.device as Device;
    const prev = c.prev;
    const cartFull = c.cart.length > 0;
    weights[0] = prev === P_PRODUCT ? 0.33 : 0.42; // product_viewed
    weights[1] = prev === P_PRODUCT ? 0.1 : 0.15; // category page
    weights[2] = 0.07; // search
    weights[3] = prev === P_PRODUCT ? 0.16 * c.buyer : 0; // add_to_cart
    weights[4] = cartFull ? (prev === P_ADD ? 0.14 : 0.035) * c.buyer : 0; // checkout
    weights[5] = cartFull ? 0.015 : 0; // remove_from_cart
    weights[6] = d.identified ? 0 : 0.03; // login
    weights[7] = d.identified ? 0.005 : 0; // consent change
    weights[8] = d.identified && c.loyaltyId !== null && !c.aliased ? 0.03 : 0; // link the loyalty card
    weights[9] = prev === P_ADD ? 0.2 : prev === P_CHECKOUT ? 0.5 : 0.15; // end (abandons a full cart)
    const action = choices[rng.weightedIndex(weights)] as number;
    switch (action) {
      case A_END: return endSession(c, t);
      case A_PRODUCT: return plan(c, t, action, gap(prev === P_PRODUCT ? 28 * SECOND : 18 * SECOND, 0.9));
      case A_ADD: return plan(c, t, action, gap(14 * SECOND, 0.7));
      case A_CHECKOUT_LOGIN: return plan(c, t, action, gap(20 * SECOND, 0.6));
      case A_LOGIN: return plan(c, t, action, gap(15 * SECOND, 0.6));
      default: return plan(c, t, action, gap(20 * SECOND, 0.9));
    }
  }

  /** Starts a session: decides its kind and emits its first event. */
  function startSession(c: Customer, t: number): TributaryEvent {
    if (!c.started) {
      c.started = true;
      stats.customers++;
    }
    stats.sessions++;
    c.steps = 0;
    c.prev = P_OTHER;
    c.lastProduct = -1;
    c.campaign = null;
    if (c.cart.length > 0 && rng.chance(0.35)) c.cart = NO_CART; // the abandoned cart expired
    if ((c.known || c.loyaltyId !== null) && rng.chance(c.storeShare)) {
      const e = userEvent(c, t, storeUserId(c), 'store', 'store_visit', { storeId: `store-${c.homeStore}` });
      if (rng.chance(0.45)) plan(c, t, A_STORE_PURCHASE, gap(9 * MINUTE, 0.5));
      else endSession(c, t);
      return e;
    }
    if (c.unlocked < c.devices.length && rng.chance(0.15)) c.unlocked++;
    if (c.known && c.consentEmail && rng.chance(0.18)) {
      // A newsletter click (ESP-side, userId only), landing on the site seconds later.
      const week = Math.floor((t - o.start) / (7 * DAY));
      c.campaign = `newsletter-${week}`;
      const featured = popularity.sample(rng);
      c.device = c.devices[Math.floor(rng.next() * c.unlocked)] as Device;
      c.channel = c.device.kind;
      const e = userEvent(c, t, c.userId, 'email', 'email_clicked', {
        campaignId: c.campaign,
        productId: productIds[featured],
        url: `https://shop.example.com/p/${productIds[featured]}`,
      });
      c.lastProduct = featured;
      plan(c, t, A_LANDING, Math.round(2 * SECOND + rng.next() * 10 * SECOND));
      return e;
    }
    c.device = c.devices[c.unlocked === 1 ? 0 : Math.floor(rng.next() * c.unlocked)] as Device;
    c.channel = c.device.kind;
    return landing(c, t);
  }

  function landing(c: Customer, t: number): TributaryEvent {
    const d = c.device as Device;
    let e: TributaryEvent;
    if (c.campaign !== null && c.lastProduct >= 0) {
      // Newsletter deep link: lands on the featured product.
      e = deviceEvent(c, t, 'track', 'product_viewed', productProps(c.lastProduct));
      c.prev = P_PRODUCT;
    } else {
      e = d.kind === 'web'
        ? deviceEvent(c, t, 'page', 'Home', { path: '/', url: 'https://shop.example.com/', referrer: rng.pick(['https://www.google.com/', '', 'https://www.instagram.com/', '']) })
        : deviceEvent(c, t, 'screen', 'Home', { name: 'Home' });
      c.prev = P_OTHER;
    }
    browse(c, t);
    return e;
  }

  /** Logs in on the session's device (`identify`), then does `then` (or browses on when -1). */
  function login(c: Customer, t: number, then: number): TributaryEvent {
    const d = c.device as Device;
    const firstTime = !c.known;
    d.identified = true;
    c.known = true;
    const e: TributaryEvent = {
      messageId: `g-${seed}-${ordinal++}`,
      type: 'identify',
      userId: c.userId,
      anonymousId: d.anonymousId,
      timestamp: t,
      traits: { email: `${c.userId}@example.com` },
      context: context(c, c.channel, d),
    };
    c.resume = then;
    if (firstTime && rng.chance(0.08)) plan(c, t, A_ALIAS_ANON, gap(2 * SECOND, 0.5));
    else resume(c, t);
    return e;
  }

  function resume(c: Customer, t: number): void {
    const then = c.resume;
    c.resume = -1;
    if (then >= 0) plan(c, t, then, gap(10 * SECOND, 0.5));
    else browse(c, t);
  }

  function alias(c: Customer, t: number, previousId: string): TributaryEvent {
    return {
      messageId: `g-${seed}-${ordinal++}`,
      type: 'alias',
      userId: c.userId,
      anonymousId: null,
      previousId,
      timestamp: t,
      context: context(c, c.channel, c.device),
    };
  }

  /** Emits the customer's scheduled event at its time `t` and schedules the next one. */
  function step(c: Customer): TributaryEvent {
    const t = c.next;
    switch (c.action) {
      case A_START:
        return startSession(c, t);
      case A_LANDING:
        return landing(c, t);
      case A_PRODUCT: {
        const p = pickProduct(c);
        c.lastProduct = p;
        const e = deviceEvent(c, t, 'track', 'product_viewed', productProps(p));
        c.prev = P_PRODUCT;
        browse(c, t);
        return e;
      }
      case A_CATEGORY: {
        const cat = c.lastProduct >= 0 && rng.chance(0.5) ? productCategory[c.lastProduct] as number : categoryTable.sample(rng);
        const name = CATEGORIES[cat] as string;
        const e = (c.device as Device).kind === 'web'
          ? deviceEvent(c, t, 'page', 'Category', { path: `/c/${name}`, url: `https://shop.example.com/c/${name}`, category: name })
          : deviceEvent(c, t, 'screen', 'Category', { name: 'Category', category: name });
        c.prev = P_OTHER;
        browse(c, t);
        return e;
      }
      case A_SEARCH: {
        const cat = categoryTable.sample(rng);
        const e = deviceEvent(c, t, 'track', 'products_searched', { query: rng.pick(SEARCH_TERMS[cat] as string[]) });
        c.prev = P_OTHER;
        browse(c, t);
        return e;
      }
      case A_ADD: {
        const p = c.lastProduct;
        const quantity = rng.chance(0.85) ? 1 : rng.int(2, 4);
        const item = c.cart.find((it) => it.product === p);
        if (item !== undefined) item.quantity += quantity;
        else if (c.cart === NO_CART) c.cart = [{ product: p, quantity }];
        else if (c.cart.length < 12) c.cart.push({ product: p, quantity });
        const e = deviceEvent(c, t, 'track', 'add_to_cart', productProps(p, { quantity }));
        c.prev = P_ADD;
        browse(c, t);
        return e;
      }
      case A_REMOVE: {
        const k = Math.floor(rng.next() * c.cart.length);
        const [item] = c.cart.splice(k, 1);
        const it = item as CartItem;
        const e = deviceEvent(c, t, 'track', 'remove_from_cart', productProps(it.product, { quantity: it.quantity }));
        c.prev = P_OTHER;
        browse(c, t);
        return e;
      }
      case A_CHECKOUT_LOGIN:
      case A_CHECKOUT: {
        // Checkout needs a login: an anonymous device identifies first.
        if (!(c.device as Device).identified) return login(c, t, A_CHECKOUT);
        const e = deviceEvent(c, t, 'track', 'checkout_started', orderPreview(c.cart));
        if (rng.chance(Math.min(0.9, 0.55 * c.buyer))) {
          plan(c, t, A_PURCHASE, gap(70 * SECOND, 0.6));
        } else {
          c.prev = P_CHECKOUT;
          browse(c, t);
        }
        return e;
      }
      case A_PURCHASE: {
        const e = deviceEvent(c, t, 'track', 'purchase', orderProps(c.cart, {}));
        c.cart = NO_CART;
        if (rng.chance(0.75)) endSession(c, t);
        else {
          c.prev = P_OTHER;
          browse(c, t);
        }
        return e;
      }
      case A_LOGIN:
        return login(c, t, -1);
      case A_ALIAS_ANON: {
        const e = alias(c, t, (c.device as Device).anonymousId);
        resume(c, t);
        return e;
      }
      case A_ALIAS_LOYALTY: {
        const e = alias(c, t, c.loyaltyId as string);
        c.aliased = true;
        c.prev = P_OTHER;
        browse(c, t);
        return e;
      }
      case A_CONSENT: {
        const d = c.device as Device;
        if (d.kind === 'app' && rng.chance(0.6)) c.consentPush = !c.consentPush;
        else c.consentEmail = !c.consentEmail;
        const e = deviceEvent(c, t, 'track', 'consent_updated', { email: c.consentEmail, push: c.consentPush });
        c.prev = P_OTHER;
        browse(c, t);
        return e;
      }
      case A_STORE_PURCHASE: {
        const n = rng.weightedIndex([60, 30, 10]) + 1;
        const items: CartItem[] = [];
        for (let k = 0; k < n; k++) items.push({ product: popularity.sample(rng), quantity: rng.chance(0.8) ? 1 : 2 });
        const e = userEvent(c, t, storeUserId(c), 'store', 'purchase', orderProps(items, { storeId: `store-${c.homeStore}` }));
        endSession(c, t);
        return e;
      }
      default:
        throw new Error(`generator: unknown action ${c.action}`);
    }
  }

  function orderPreview(cart: readonly CartItem[]): Record<string, unknown> {
    let value = 0;
    let quantity = 0;
    for (const it of cart) {
      value += (productPrice[it.product] as number) * it.quantity;
      quantity += it.quantity;
    }
    return { value: Math.round(value * 100) / 100, currency: 'EUR', items: quantity };
  }

  // ---- Arrival order: reorder buffer with injected disorder, late arrivals and duplicates.
  const buffer = new MinHeap<Pending>((a, b) => a.arrival < b.arrival || (a.arrival === b.arrival && a.seq < b.seq));
  // Probabilities per original event so that the rates hold as fractions of the output.
  const originals = 1 - o.duplicateRate;
  const pDuplicate = o.duplicateRate / originals;
  const pOutOfOrder = o.outOfOrderRate / originals;
  const pLate = o.lateRate / originals;
  // An injected disorder only shows if other traffic overtakes the delayed event; when none
  // did (thin traffic), the debt carries the injection over to a later event.
  let debtOutOfOrder = 0;
  let debtLate = 0;
  let maxSeen = -Infinity;

  const observe = (p: Pending): TributaryEvent => {
    const e = p.event;
    const ts = e.timestamp;
    stats.events++;
    let observed = I_NONE;
    if (p.intent === I_DUPLICATE) {
      stats.duplicates++;
      observed = I_DUPLICATE;
    } else {
      const key = e.type === 'track' ? (e.event as string) : e.type;
      counts[key] = (counts[key] ?? 0) + 1;
      if (ts < maxSeen) {
        if (ts < maxSeen - o.lateByMs) {
          stats.late++;
          observed = I_LATE;
        } else {
          stats.outOfOrder++;
          observed = I_OUT_OF_ORDER;
        }
      }
    }
    if (ts < maxSeen) {
      if (maxSeen - ts > stats.maxDisorderMs) stats.maxDisorderMs = maxSeen - ts;
    } else {
      maxSeen = ts;
    }
    if (p.intent !== observed && p.intent !== I_DUPLICATE) {
      if (p.intent === I_OUT_OF_ORDER) debtOutOfOrder++;
      else if (p.intent === I_LATE) debtLate++;
      if (observed === I_OUT_OF_ORDER) debtOutOfOrder--;
      else if (observed === I_LATE) debtLate--;
    }
    return e;
  };

  let generated = 0;
  let seq = 0;
  while (generated < o.events) {
    const c = customers[schedule.top] as Customer;
    const e = step(c);
    schedule.rescheduleTop(c.next);
    const tNext = schedule.topTime;
    generated++;
    const t = e.timestamp;
    if (stats.firstTimestamp === null) stats.firstTimestamp = t;
    stats.lastTimestamp = t;

    if (rng.chance(pLate)) debtLate++;
    if (rng.chance(pOutOfOrder)) debtOutOfOrder++;
    let intent = I_NONE;
    let arrival = t;
    if (debtLate >= 1) {
      debtLate--;
      intent = I_LATE;
      arrival = t + o.lateByMs + 1 + Math.floor(rng.next() * o.lateByMs);
    } else if (debtOutOfOrder >= 1 && tNext > t && tNext - t < o.maxDisorderMs) {
      // Only when the next event (known from the schedule) is close enough to overtake this
      // one; otherwise the debt waits for a later event, so the rate holds in thin traffic.
      debtOutOfOrder--;
      intent = I_OUT_OF_ORDER;
      arrival = tNext + 1 + Math.floor(rng.next() * (t + o.maxDisorderMs - tNext));
    }

    // Everything due by now arrives before this event (all later events arrive ≥ t), except
    // late ones, which arrive just after it: the first event more than lateByMs newer (and
    // whatever is due after a late one, so that a re-send never overtakes its original).
    let top = buffer.peek();
    let lateNow: Pending[] | null = null;
    while (top !== undefined && top.arrival <= t) {
      const p = buffer.pop() as Pending;
      if (p.intent === I_LATE || lateNow !== null) (lateNow ??= []).push(p);
      else yield observe(p);
      top = buffer.peek();
    }
    const pending: Pending = { event: e, arrival, seq, intent };
    // A re-send: copied before the original is yielded (consumers may annotate events in place).
    if (generated < o.events && rng.chance(pDuplicate)) {
      generated++;
      const delay = 1 + Math.min(60 * SECOND, Math.floor(rng.logNormal(1500, 1.2)));
      buffer.push({ event: structuredClone(e), arrival: arrival + delay, seq: seq + 1, intent: I_DUPLICATE });
    }
    seq += 2;
    if (intent === I_NONE) yield observe(pending);
    else buffer.push(pending);
    if (lateNow !== null) for (const p of lateNow) yield observe(p);
    if (buffer.size > stats.maxBuffered) stats.maxBuffered = buffer.size;
  }
  while (buffer.size > 0) yield observe(buffer.pop() as Pending);
  return stats;
}
