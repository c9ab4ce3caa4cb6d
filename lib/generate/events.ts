/**
 * Building the generated events: the message ids, context, product and order properties of
 * each call (track, page, screen, identify, alias), from a customer's state.
 */
import type { TributaryEvent } from '../event/event.js';
import { CATEGORIES } from './catalogue.js';
import type { Catalogue } from './catalogue.js';
import type { CartItem, Customer, Device } from './customer.js';

/** The event builders of one run; message ids and order ids count up within the run. */
export interface EventFactory {
  /** An event from the customer's current session device (web/app). */
  deviceEvent(c: Customer, t: number, type: TributaryEvent['type'], name: string | null, properties: Record<string, unknown>): TributaryEvent;
  /** A server-side event (email, store) that carries the userId only. */
  userEvent(c: Customer, t: number, userId: string, channel: string, name: string, properties: Record<string, unknown>): TributaryEvent;
  /** The `identify` of a login on the session's device (which is already marked identified). */
  identify(c: Customer, t: number): TributaryEvent;
  alias(c: Customer, t: number, previousId: string): TributaryEvent;
  productProps(p: number, extra?: Record<string, unknown>): Record<string, unknown>;
  orderProps(items: readonly CartItem[], extra: Record<string, unknown>): Record<string, unknown>;
  orderPreview(cart: readonly CartItem[]): Record<string, unknown>;
}

/** The event builders of the run with this seed over this catalogue. */
export function createEvents(seed: number, catalogue: Catalogue): EventFactory {
  const { productIds, productCategory, productPrice } = catalogue;
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

  function orderProps(items: readonly CartItem[], extra: Record<string, unknown>): Record<string, unknown> {
    let revenue = 0;
    const products = items.map((it) => {
      const price = productPrice[it.product] as number;
      revenue += price * it.quantity;
      return { productId: productIds[it.product], category: CATEGORIES[productCategory[it.product] as number], price, quantity: it.quantity };
    });
    return { orderId: `o-${seed}-${++orders}`, revenue: Math.round(revenue * 100) / 100, currency: 'EUR', products, ...extra };
  }

  function identify(c: Customer, t: number): TributaryEvent {
    const d = c.device as Device;
    return {
      messageId: `g-${seed}-${ordinal++}`,
      type: 'identify',
      userId: c.userId,
      anonymousId: d.anonymousId,
      timestamp: t,
      traits: { email: `${c.userId}@example.com` },
      context: context(c, c.channel, d),
    };
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

  function orderPreview(cart: readonly CartItem[]): Record<string, unknown> {
    let value = 0;
    let quantity = 0;
    for (const it of cart) {
      value += (productPrice[it.product] as number) * it.quantity;
      quantity += it.quantity;
    }
    return { value: Math.round(value * 100) / 100, currency: 'EUR', items: quantity };
  }

  return { deviceEvent, userEvent, identify, alias, productProps, orderProps, orderPreview };
}
