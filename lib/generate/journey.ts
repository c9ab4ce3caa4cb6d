/**
 * The customer journeys: what a customer's next event is and when (sessions, browsing,
 * logins, checkouts, store visits), one scheduled event at a time.
 */
import type { TributaryEvent } from '../event/event.js';
import { SEARCH_TERMS, CATEGORIES } from './catalogue.js';
import type { Catalogue } from './catalogue.js';
import {
  A_ADD, A_ALIAS_ANON, A_ALIAS_LOYALTY, A_CATEGORY, A_CHECKOUT, A_CHECKOUT_LOGIN, A_CONSENT, A_END,
  A_LANDING, A_LOGIN, A_PRODUCT, A_PURCHASE, A_REMOVE, A_SEARCH, A_START, A_STORE_PURCHASE,
  NO_CART, P_ADD, P_CHECKOUT, P_OTHER, P_PRODUCT,
} from './customer.js';
import type { CartItem, Customer, Device } from './customer.js';
import type { EventFactory } from './events.js';
import type { GenerateStats } from './options.js';
import type { Random } from './random.js';

export const SECOND = 1_000;
const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MAX_IN_SESSION_GAP = 25 * MINUTE;
const MIN_SESSION_GAP = 45 * MINUTE;
const MAX_SESSION_GAP = 45 * DAY;
const MAX_SESSION_STEPS = 60;
/** Measured mean event time per event of one customer (≈ 5.9h); spreads first visits over the stream. */
export const MS_PER_CUSTOMER_EVENT = 5.9 * HOUR;

/**
 * The journey step of one run: emits a customer's scheduled event at its time (`c.next`) and
 * schedules the customer's next one. Counts customers and sessions into `stats`.
 */
export function createJourney(rng: Random, stats: GenerateStats, start: number, catalogue: Catalogue, events: EventFactory): (c: Customer) => TributaryEvent {
  const { productIds, productCategory, byCategory, categoryTable, popularity } = catalogue;
  const { deviceEvent, userEvent, identify, alias, productProps, orderProps, orderPreview } = events;

  function pickProduct(c: Customer): number {
    if (c.lastProduct >= 0 && rng.chance(0.45)) {
      // Something similar: same category, skewed to the popular end.
      const list = byCategory[productCategory[c.lastProduct] as number] as number[];
      const k = Math.min(Math.floor(rng.next() * list.length), Math.floor(rng.next() * list.length));
      return list[k] as number;
    }
    return popularity.sample(rng);
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
      const week = Math.floor((t - start) / (7 * DAY));
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
    const e = identify(c, t);
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

  return step;
}
