/**
 * Do Tributary and Kafka Streams give the same outputs (`streams-compare.bench.ts`)? Where they
 * differ by design, the check names the rule and tests that the difference is only that:
 *
 * - Lateness. Tributary drops an event more than `allowedLateness` (1m) behind its source
 *   partition's watermark into its `late` stream before any step; Kafka Streams' dedupe processor
 *   has no lateness rule, and its session windows drop a record only when the session it would
 *   join closed (stream time passed end + gap + grace). So Kafka Streams keeps the events that
 *   Tributary sends to `late`.
 * - End of input. A bounded Tributary run closes every session at the end; Kafka Streams closes
 *   a session window only when stream time passes its end + gap + grace, so the sessions of the
 *   last 31 minutes of event time (per repartition partition) never come out of
 *   `suppress(untilWindowCloses)`.
 * - Event time behind a repartition topic. Tributary's watermark there is the minimum of what its
 *   upstream tasks report; Kafka Streams' stream time is the highest timestamp read from the
 *   partition. On a pre-produced input the three upstream tasks run hours to days apart in event
 *   time (each works through a fetch of its own partition at a time), so with a 1m grace Kafka
 *   Streams skips a large share of the records as too late for their (closed) session; the
 *   365d-grace run skips none.
 */
import { Partitioners, type KafkaMessage, type PartitionMetadata } from 'kafkajs';
import type { TributaryEvent } from '../../lib/event/event.js';
import { resolveKey } from '../../lib/event/key.js';
import { fmt, readTopic } from '../kafka/common.js';

export const SESSION_KEY = ['userId', 'anonymousId'];
export const GAP_MS = 30 * 60_000;
export const GRACE_MS = 60_000;
const MAX_DURATION_MS = 24 * 3_600_000;

export interface SessionOut { key: string; start: number; end: number; count: number }
export interface LateOut { messageId: string; key: string | undefined; timestamp: number }
export interface CheckResult { lines: string[]; ok: boolean }

const time = (t: unknown) => (typeof t === 'number' ? t : Date.parse(String(t)));
const json = (m: KafkaMessage) => JSON.parse(m.value?.toString() ?? 'null') as Record<string, unknown>;

export async function readMessageIds(topic: string): Promise<string[]> {
  const ids: string[] = [];
  await readTopic(topic, (m) => ids.push(String(json(m).messageId)));
  return ids;
}

export async function readLate(topic: string): Promise<LateOut[]> {
  const late: LateOut[] = [];
  await readTopic(topic, (m) => {
    const e = json(m);
    late.push({ messageId: String(e.messageId), key: resolveKey(e, SESSION_KEY), timestamp: time(e.timestamp) });
  });
  return late;
}

/**
 * Session records of either system: Tributary's (`eventCount`), or the Kafka Streams app's
 * (`count`). With `updates` (the app without suppress) the topic holds every update of every
 * session window and `count: null` for a window merged away; the last value per window is the
 * session table at the end.
 */
export async function readSessions(topic: string, updates = false): Promise<SessionOut[]> {
  const sessions = new Map<string, SessionOut>();
  let n = 0;
  await readTopic(topic, (m) => {
    const s = json(m);
    const out = { key: String(s.key), start: time(s.start), end: time(s.end), count: Number(s.eventCount ?? s.count) };
    const id = updates ? `${out.key}|${out.start}|${out.end}` : String(n++);
    if (updates && s.count === null) sessions.delete(id);
    else sessions.set(id, out);
  });
  return [...sessions.values()];
}

/** The partition of a string key as Java's default partitioner (and kafkajs', and Tributary's) places it. */
function javaPartitioner(partitions: number): (key: string) => number {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: partitions }, (_, i): PartitionMetadata =>
    ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0, offlineReplicas: [] }));
  return (key) => partitioner({ topic: 'any', partitionMetadata, message: { key, value: null } });
}

/**
 * The events leaving the last step. After dedupe: Kafka Streams writes each distinct messageId
 * once; Tributary each distinct messageId that had a copy on time. Without dedupe: every input
 * event, less Tributary's late ones.
 */
export function eventsCheck(input: readonly TributaryEvent[], deduped: boolean, trib: readonly string[], late: readonly LateOut[], ks: readonly string[]): CheckResult {
  const distinct = new Set(input.map((e) => e.messageId));
  const tribIds = new Set(trib);
  const ksIds = new Set(ks);
  const lateIds = new Set(late.map((l) => l.messageId));
  if (!deduped) {
    const ok = ks.length === input.length && trib.length + late.length === input.length;
    return {
      ok,
      lines: [`events out: Kafka Streams ${fmt(ks.length)} (input ${fmt(input.length)}), Tributary ${fmt(trib.length)} + ${fmt(late.length)} late = ${fmt(trib.length + late.length)}${ok ? '' : '  ← MISMATCH'}`],
    };
  }
  const ksMissing = [...distinct].filter((id) => !ksIds.has(id)).length;
  const tribMissing = [...distinct].filter((id) => !tribIds.has(id));
  const unexplained = tribMissing.filter((id) => !lateIds.has(id)).length;
  const ksExtra = [...ksIds].filter((id) => !tribIds.has(id));
  const ok = ks.length === distinct.size && ksMissing === 0 && trib.length === tribIds.size && unexplained === 0 && ksExtra.every((id) => lateIds.has(id));
  return {
    ok,
    lines: [
      `events out: distinct messageIds in the input ${fmt(distinct.size)} (of ${fmt(input.length)} events); Kafka Streams ${fmt(ks.length)} (${fmt(ks.length - ksIds.size)} repeated, ${fmt(ksMissing)} missing); ` +
      `Tributary ${fmt(trib.length)} (${fmt(trib.length - tribIds.size)} repeated) and ${fmt(late.length)} late; the ${fmt(tribMissing.length)} ids Tributary did not pass ` +
      `${unexplained === 0 ? 'are all among its late events' : `include ${fmt(unexplained)} that are not late  ← MISMATCH`}${ok ? '' : '  ← MISMATCH'}`,
    ],
  };
}

/**
 * Session records: equal where both systems can have them, every difference next to one of
 * Tributary's late events. `closedOnly`: Kafka Streams emitted final results, so only the
 * sessions its stream time closed; `dropped`: records it skipped as too late for their window.
 */
export function sessionsCheck(input: readonly TributaryEvent[], partitions: number, trib: readonly SessionOut[], ks: readonly SessionOut[],
  late: readonly LateOut[], opts: { closedOnly: boolean; dropped: number }): CheckResult {
  const partition = javaPartitioner(partitions);
  // Kafka Streams' stream time per repartition partition at the end: the highest event time routed there.
  const streamTime = new Array<number>(partitions).fill(-Infinity);
  for (const e of input) {
    const k = resolveKey(e, SESSION_KEY);
    if (k === undefined) continue;
    const p = partition(k);
    streamTime[p] = Math.max(streamTime[p] as number, time(e.timestamp));
  }
  const closes = (s: SessionOut) => !opts.closedOnly || s.end + GAP_MS + GRACE_MS <= (streamTime[partition(s.key)] as number);
  const id = (s: SessionOut) => `${s.key}|${s.start}|${s.end}|${s.count}`;
  const tribClosed = trib.filter(closes);
  const tribIds = new Set(tribClosed.map(id));
  const ksIds = new Set(ks.map(id));
  const matched = tribClosed.filter((s) => ksIds.has(id(s))).length;
  const onlyKs = ks.filter((s) => !tribIds.has(id(s)));
  const onlyTrib = tribClosed.filter((s) => !ksIds.has(id(s)));
  const lateByKey = new Map<string, number[]>();
  for (const l of late) if (l.key !== undefined) lateByKey.set(l.key, [...(lateByKey.get(l.key) ?? []), l.timestamp]);
  const nearLate = (s: SessionOut) => (lateByKey.get(s.key) ?? []).some((t) => t >= s.start - GAP_MS && t <= s.end + GAP_MS);
  const ksOpen = ks.filter((s) => !closes(s)).length;
  const long = ks.filter((s) => s.end - s.start > MAX_DURATION_MS).length;
  const sum = (xs: readonly SessionOut[]) => xs.reduce((a, s) => a + s.count, 0);
  const unexplained = onlyKs.filter((s) => !nearLate(s)).length + onlyTrib.filter((s) => !nearLate(s)).length;
  // Records Kafka Streams skipped explain the rest, if anything does; the check then only holds it
  // to emitting nothing it could not have closed.
  const ok = ksOpen === 0 && long === 0 && (unexplained === 0 || opts.dropped > 0);
  const scope = opts.closedOnly
    ? `, of which ${fmt(tribClosed.length)} end at least gap + grace (31m) before the highest event time of their repartition partition: the ones Kafka Streams can close`
    : ' (Kafka Streams: its session table at the end, closed or not)';
  return {
    ok,
    lines: [
      `sessions: Tributary ${fmt(trib.length)} records (${fmt(sum(trib))} events)${scope}; Kafka Streams ${fmt(ks.length)} (${fmt(sum(ks))} events; ${fmt(opts.dropped)} records skipped as too late for their window)` +
      `${ksOpen ? `, ${fmt(ksOpen)} of them not closable by that rule  ← MISMATCH` : ''}.`,
      `  identical (key, start, end, count): ${fmt(matched)}; only in Kafka Streams ${fmt(onlyKs.length)} (${fmt(sum(onlyKs))} events), only in Tributary ${fmt(onlyTrib.length)} (${fmt(sum(onlyTrib))} events); ` +
      `${unexplained === 0 ? 'every difference is a session of a key with an event Tributary dropped as late within its gap' : `${fmt(unexplained)} differences without a Tributary-late event nearby${opts.dropped > 0 ? ' (Kafka Streams skipped records)' : '  ← MISMATCH'}`}; ` +
      `Kafka Streams sessions longer than 24h (Tributary's maxDuration): ${fmt(long)}${long ? '  ← semantics differ' : ''}.`,
    ],
  };
}
