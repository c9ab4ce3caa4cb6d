/**
 * The customers of the generated shop: their devices, carts and per-session state, the
 * actions a customer's next event can be, and the drawing of a new customer.
 */
import type { Random } from './random.js';
import { hash32 } from './random.js';

export const STORES = 24;

// Actions: what a customer's next event is.
export const A_START = 0;
export const A_LANDING = 1;
export const A_PRODUCT = 2;
export const A_CATEGORY = 3;
export const A_SEARCH = 4;
export const A_ADD = 5;
export const A_REMOVE = 6;
export const A_CHECKOUT_LOGIN = 7;
export const A_CHECKOUT = 8;
export const A_PURCHASE = 9;
export const A_LOGIN = 10;
export const A_ALIAS_ANON = 11;
export const A_ALIAS_LOYALTY = 12;
export const A_CONSENT = 13;
export const A_STORE_PURCHASE = 14;
export const A_END = 15; // decision only: the session ends

// What the previous event of a session was (shapes the next decision).
export const P_OTHER = 0;
export const P_PRODUCT = 1;
export const P_ADD = 2;
export const P_CHECKOUT = 3;

export interface Device {
  readonly anonymousId: string;
  readonly kind: 'web' | 'app';
  readonly deviceType: string;
  identified: boolean;
}

export interface CartItem {
  readonly product: number;
  quantity: number;
}

/** The empty cart, shared (most customers' carts are empty most of the time); never mutated. */
export const NO_CART: CartItem[] = [];

export interface Customer {
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

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

/** Draws customer `i`, first due at a random time within `spread` ms of `start`. */
export function newCustomer(rng: Random, seed: number, start: number, spread: number, i: number): Customer {
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
    next: start + Math.floor(rng.next() * spread),
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
