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
import { buildCatalogue } from './catalogue.js';
import { newCustomer } from './customer.js';
import type { Customer } from './customer.js';
import { createEvents } from './events.js';
import { HOUR, MS_PER_CUSTOMER_EVENT, SECOND, createJourney } from './journey.js';
import { emptyStats, resolve } from './options.js';
import type { GenerateOptions, GenerateStats, Resolved } from './options.js';
import { Random, hash32 } from './random.js';
import { MinHeap, Schedule } from './schedule.js';

export { DEFAULT_START } from './options.js';
export type { GenerateOptions, GenerateStats } from './options.js';

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

/**
 * A deterministic synthetic behavioral event stream, in arrival order. Streams: O(customers)
 * memory whatever the number of events. The generator's return value is the final
 * {@link GenerateStats}.
 *
 * @example
 * ```ts
 * import { generateEvents } from 'tributary-streams';
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

  const catalogue = buildCatalogue(rng, seed, o.products);

  // ---- Customers, scheduled by their next event time.
  const spread = Math.max(HOUR, 0.6 * (o.events / o.customers) * MS_PER_CUSTOMER_EVENT);
  const customers: Customer[] = [];
  const schedule = new Schedule(o.customers);
  for (let i = 0; i < o.customers; i++) {
    const c = newCustomer(rng, seed, o.start, spread, i);
    customers.push(c);
    schedule.add(i, c.next);
  }
  const step = createJourney(rng, stats, o.start, catalogue, createEvents(seed, catalogue));

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
