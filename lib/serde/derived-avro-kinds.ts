/**
 * The derived record kinds that have an Avro schema, and the fields of each: which stream
 * kinds are written as events, and for every other kind its record name, doc and typed fields
 * (from which derived-avro-schema.ts builds the schema and derived-avro-codec.ts converts records).
 */

/** @internal How a field is converted; `optional` decodes null as absent, `nullable` as null. */
export type Shape =
  | 'string' | 'long' | 'double' | 'timestamp' | 'boolean' | 'strings' | 'longs' | 'longMap' | 'doubleMap' | 'jsonMap'
  | 'eventRef' | 'funnelSteps' | 'creditedTouchpoints';
/** @internal One field of a derived record kind. */
export interface FieldSpec {
  name: string;
  shape: Shape;
  presence: 'required' | 'nullable' | 'optional';
  doc: string;
}

const f = (name: string, shape: Shape, doc: string, presence: FieldSpec['presence'] = 'required'): FieldSpec => ({ name, shape, presence, doc });

const TRIGGER_FIELDS: FieldSpec[] = [
  f('triggerId', 'string', 'Deterministic id of this firing.'),
  f('rule', 'string', 'Rule name.'),
  f('key', 'string', 'The key the rule fired for.'),
  f('personId', 'string', 'personId of the subject event, when it has one.', 'optional'),
  f('firedAt', 'timestamp', 'Event time at which the rule fired.'),
  f('causes', 'strings', 'messageIds of the causing events, in event-time order.'),
  f('channel', 'string', 'The selected channel; null when the rule lists none.', 'nullable'),
  f('payload', 'jsonMap', 'The payload fields of the rule, from the subject event.'),
  f('transition', 'string', 'Segment rules only: entry or exit.', 'optional'),
];

/** The fields attribution's two outputs open with: the record and the conversion it is about. */
const CONVERSION_FIELDS: FieldSpec[] = [
  f('id', 'string', 'Deterministic id of the record.'),
  f('key', 'string', 'The attribution key.'),
  f('conversionId', 'string', 'The messageId of the conversion event.'),
  f('convertedAt', 'timestamp', 'Its event time.'),
];

/** @internal A derived record kind: its record name, doc and fields. */
export interface RecordSpec {
  name: string;
  doc: string;
  fields: FieldSpec[];
}

/** @internal The record kinds with their own schema, by stream kind. */
export const RECORD_TYPES: Record<string, RecordSpec> = {
  triggers: { name: 'Trigger', doc: 'A fired trigger rule.', fields: TRIGGER_FIELDS },
  'suppressed-triggers': {
    name: 'SuppressedTrigger',
    doc: 'A trigger candidate that was suppressed, and why.',
    fields: [...TRIGGER_FIELDS, f('reason', 'string', 'no-channel, no-consent, cooldown or frequency-cap.')],
  },
  sessions: {
    name: 'Session',
    doc: 'A closed session.',
    fields: [
      f('sessionId', 'string', 'Deterministic session id.'),
      f('key', 'string', 'The session key.'),
      f('start', 'timestamp', 'Event time of the first event.'),
      f('end', 'timestamp', 'Event time of the last event.'),
      f('durationMs', 'long', 'end - start.'),
      f('eventCount', 'long', 'Number of events.'),
      f('eventCounts', 'longMap', 'Events per name (event for track events, type for the others).'),
      f('firstEvent', 'eventRef', 'The first event.'),
      f('lastEvent', 'eventRef', 'The last event.'),
      f('channels', 'strings', 'Distinct context.channel values, sorted.'),
      f('mergedFrom', 'strings', 'Other ids given to events of this session, sorted.'),
    ],
  },
  'identity-merges': {
    name: 'IdentityMerge',
    doc: 'An identity merge or a refused merge.',
    fields: [
      f('mergeId', 'string', 'Deterministic id of the merge or refusal.'),
      f('status', 'string', 'merged or refused.'),
      f('personId', 'string', 'The survivor (for refused: the one that would have survived).'),
      f('mergedPersonId', 'string', 'The absorbed person (for refused: the one that would have been absorbed).'),
      f('identifiers', 'strings', 'The linking identifiers.'),
      f('messageId', 'string', 'The event that caused it.'),
      f('timestamp', 'timestamp', 'Its event time.'),
      f('eventType', 'string', 'Its type (identify, alias, track, ...).'),
      f('reason', 'string', 'Only on refused: the limit that refused it.', 'optional'),
      f('detail', 'string', 'Only on refused: what exceeded the limit.', 'optional'),
      f('provisional', 'boolean', 'Only on a correction of a provisional person id (Kafka mode).', 'optional'),
    ],
  },
  aggregates: {
    name: 'Aggregate',
    doc: 'The values of one window of one key.',
    fields: [
      f('id', 'string', 'Deterministic id of the record.'),
      f('key', 'string', 'The aggregation key.'),
      f('windowStart', 'timestamp', 'Window start (inclusive).'),
      f('windowEnd', 'timestamp', 'Window end.'),
      f('values', 'jsonMap', 'One entry per named aggregate.'),
      f('final', 'boolean', 'True for the final value of a closed window, false for an update.'),
    ],
  },
  funnels: {
    name: 'FunnelAttempt',
    doc: 'One attempt of a key through a funnel: closed (final) or, with emit: update, open.',
    fields: [
      f('id', 'string', 'Deterministic id of the record.'),
      f('key', 'string', 'The funnel key.'),
      f('funnel', 'string', 'The funnel step name in the pipeline.'),
      f('startedAt', 'timestamp', 'Event time of the event that reached step 1.'),
      f('steps', 'funnelSteps', 'The steps reached, in order.'),
      f('furthestStep', 'long', '1-based index of the last step reached.'),
      f('furthestStepName', 'string', 'Its name.'),
      f('converted', 'boolean', 'Whether the last step was reached.'),
      f('droppedAfter', 'string', 'The last step reached when the attempt closed without converting; null when converted or still open.', 'nullable'),
      f('stepDurationsMs', 'longs', 'Milliseconds between consecutive reached steps.'),
      f('totalMs', 'long', 'Last reached step time - startedAt.'),
      f('final', 'boolean', 'False for an update of an open attempt.'),
    ],
  },
  attributions: {
    name: 'Attribution',
    doc: 'One conversion and the credit of each touchpoint before it, per model.',
    fields: [
      ...CONVERSION_FIELDS,
      f('value', 'double', 'The value of the conversion.'),
      f('touchpoints', 'creditedTouchpoints', 'The credited touchpoints in journey order; empty when none.'),
      f('unattributed', 'double', 'The value no touchpoint received.'),
    ],
  },
  'channel-credits': {
    name: 'ChannelCredit',
    doc: "One conversion's credits to one (channel, campaign), per model.",
    fields: [
      ...CONVERSION_FIELDS,
      f('channel', 'string', 'The channel; null when the touchpoints had none (or for the unattributed value).', 'nullable'),
      f('campaign', 'string', 'The campaign; null when none.', 'nullable'),
      f('touchpoints', 'long', 'How many of the touchpoints have this channel and campaign (0: unattributed).'),
      f('credit', 'doubleMap', 'Their credits added up, per model.'),
    ],
  },
  forgotten: {
    name: 'Forgotten',
    doc: 'The audit record of an erasure request in one task: entries removed per store (never who).',
    fields: [
      f('id', 'string', 'Deterministic id of the record (request and task).'),
      f('requestId', 'string', 'The messageId of the forget request.'),
      f('requestedBy', 'string', 'Who asked (properties.requestedBy of the request).', 'nullable'),
      f('task', 'string', 'The task that applied it: embedded, or the Kafka task id.'),
      f('at', 'timestamp', 'Processing time at which it was applied.'),
      f('stores', 'longMap', 'Entries removed or rewritten per store (<step>.<store>).'),
      f('total', 'long', 'Sum of stores.'),
    ],
  },
  'dead-letter': {
    name: 'DeadLetter',
    doc: 'A record that could not be processed.',
    fields: [
      f('reason', 'string', 'Why (malformed-json, malformed-avro, missing-timestamp, ...).'),
      f('detail', 'string', 'What exactly went wrong.', 'optional'),
      f('raw', 'string', 'The original text, or base64 of the original bytes.'),
      f('source', 'string', 'file:line, or topic/partition/offset.'),
    ],
  },
};

/** @internal Kinds whose records are events, written with `tributary.Event` itself. */
export const EVENT_KINDS = new Set(['events', 'duplicates', 'filtered-out', 'routed']);

/**
 * Every stream kind with an Avro schema: {@link streamAvroSchema} and {@link encodeStreamAvro} accept these.
 *
 * @example
 * ```ts
 * AVRO_STREAM_KINDS.includes('sessions'); // true
 * ```
 */
export const AVRO_STREAM_KINDS: readonly string[] = [...EVENT_KINDS, 'late', ...Object.keys(RECORD_TYPES)];

