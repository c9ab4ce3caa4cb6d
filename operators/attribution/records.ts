/**
 * What `attribution` reads from an event (a touchpoint's channel and campaign, a conversion's
 * value) and the records it writes: one per conversion ({@link conversionRecord}) and, on the
 * aggregate output, one per conversion and (channel, campaign) ({@link channelRecords}).
 */
import type { TributaryEvent } from '../../lib/event/event.js';
import { resolveKey } from '../../lib/event/key.js';
import { getPath } from '../../lib/event/paths.js';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import { deriveId } from '../../lib/operator/ids.js';
import { credits, type ModelName } from './models.js';
import type { AttributionConfig } from './options.js';
import type { PendingConversion, Touchpoint } from './state.js';

/** Credits per model (the configured ones). */
export type Credits = Partial<Record<ModelName, number>>;

/** A touchpoint in a conversion record. */
export interface CreditedTouchpoint extends Touchpoint {
  credit: Credits;
}

/** A record of the per-conversion output. */
export interface AttributionRecord extends DerivedRecord {
  /** `deriveId('attribution', step, key, conversionId)`. */
  id: string;
  key: string;
  /** The conversion event's messageId. */
  conversionId: string;
  /** The conversion's event time. */
  convertedAt: number;
  value: number;
  /** The credited touchpoints in journey order (time, then messageId); empty when none. */
  touchpoints: CreditedTouchpoint[];
  /** The value no touchpoint received: `value` when there is none, else 0. */
  unattributed: number;
}

/** A record of the aggregate output: one conversion's credits to one (channel, campaign). */
export interface ChannelCreditRecord extends DerivedRecord {
  /** `deriveId('channel-credit', step, key, conversionId, [channel, campaign] as JSON)`. */
  id: string;
  key: string;
  conversionId: string;
  convertedAt: number;
  channel: string | null;
  campaign: string | null;
  /** How many of the conversion's touchpoints have this channel and campaign (0: unattributed). */
  touchpoints: number;
  /** Their credits added up, per model (for an unattributed conversion: the value, per model). */
  credit: Credits;
}

/** The touchpoint an event is. */
export function touchpointOf(event: TributaryEvent, config: AttributionConfig): Touchpoint {
  return {
    messageId: event.messageId,
    at: event.timestamp,
    channel: resolveKey(event, config.channel) ?? null,
    campaign: resolveKey(event, config.campaign) ?? null,
  };
}

/**
 * The value of a conversion: 1 without a value path; else the number at the path (a string
 * holding a decimal number is read as that number). A problem, as a sentence, when there is no
 * finite number there.
 */
export function conversionValueOf(event: TributaryEvent, path: string | undefined): { value: number } | { problem: string } {
  if (path === undefined) return { value: 1 };
  const v = getPath(event, path);
  if (typeof v === 'number' && Number.isFinite(v)) return { value: v };
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return { value: Number(v) };
  const shown = v === undefined ? 'missing' : typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? String(v)).slice(0, 40);
  return { problem: `conversion ${event.messageId}: the value at ${path} is ${shown}, not a finite number` };
}

/** The record of a conversion at `pending.at` crediting `touchpoints` (journey order). */
export function conversionRecord(config: AttributionConfig, step: string, key: string, pending: PendingConversion, touchpoints: readonly Touchpoint[]): AttributionRecord {
  const byModel = credits(config.models, touchpoints.map((t) => t.at), pending.at, pending.value, config);
  return {
    id: deriveId('attribution', step, key, pending.messageId),
    key,
    conversionId: pending.messageId,
    convertedAt: pending.at,
    value: pending.value,
    touchpoints: touchpoints.map((t, i) => {
      const credit: Credits = {};
      for (const m of config.models) credit[m] = (byModel[m] as number[])[i] as number;
      return { messageId: t.messageId, at: t.at, channel: t.channel, campaign: t.campaign, credit };
    }),
    unattributed: touchpoints.length === 0 ? pending.value : 0,
  };
}

/**
 * The aggregate records of a conversion record: one per distinct (channel, campaign) of its
 * touchpoints, in order of first appearance in the journey, with their credits added up in
 * journey order; one with channel and campaign null, `touchpoints: 0` and the whole value per
 * model for an unattributed conversion. So the credits of one model over all aggregate records
 * add up to the total conversion value.
 */
export function channelRecords(config: AttributionConfig, step: string, record: AttributionRecord): ChannelCreditRecord[] {
  const base = { key: record.key, conversionId: record.conversionId, convertedAt: record.convertedAt };
  const idOf = (channel: string | null, campaign: string | null) => deriveId('channel-credit', step, record.key, record.conversionId, JSON.stringify([channel, campaign]));
  if (record.touchpoints.length === 0) {
    const credit: Credits = {};
    for (const m of config.models) credit[m] = record.value;
    return [{ id: idOf(null, null), ...base, channel: null, campaign: null, touchpoints: 0, credit }];
  }
  const groups = new Map<string, ChannelCreditRecord>();
  for (const t of record.touchpoints) {
    const group = JSON.stringify([t.channel, t.campaign]);
    let r = groups.get(group);
    if (!r) {
      const credit: Credits = {};
      for (const m of config.models) credit[m] = 0;
      groups.set(group, (r = { id: idOf(t.channel, t.campaign), ...base, channel: t.channel, campaign: t.campaign, touchpoints: 0, credit }));
    }
    r.touchpoints++;
    for (const m of config.models) r.credit[m] = (r.credit[m] as number) + (t.credit[m] as number);
  }
  return [...groups.values()];
}
