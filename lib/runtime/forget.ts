/**
 * Erasure requests in a task: a `forget` event names a person (`userId`, `anonymousId`,
 * `properties.personId`, and `properties.identifiers` / `properties.personIds` for more);
 * each stateful step forgets them in step order, joinIdentity first widening the subject to
 * every identifier and person id of the person, so the steps after it forget those too. The task
 * writes one audit record per request on `forgotten` (counts per store, no identifier in it).
 *
 * A forget event is a control record: it is never late, never moves the watermark and never
 * reaches the `events` sink; between Kafka sub-topologies it travels (widened) on every
 * partition of the repartition topic.
 */
import type { TributaryEvent } from '../event/event.js';
import type { OperatorDefinition } from '../operator/contract.js';
import { scrubStores, subjectTerms, type ForgetOutcome, type ForgetSubject, type SubjectIdentifier } from '../operator/forget.js';
import { deriveId } from '../operator/ids.js';
import type { CompiledStep } from '../pipeline/compile.js';
import type { KeyValueStore, StoreKey } from '../state/store.js';

/** The stream audit records go to. */
export const FORGOTTEN_STREAM = 'forgotten';

/** An erasure request as the steps apply it. */
export interface ForgetRequest {
  /** The request event's messageId. */
  requestId: string;
  /** Who asked (`properties.requestedBy`), null when not said. */
  requestedBy: string | null;
  subject: ForgetSubject;
}

/** The audit record of one request in one task: what was removed, per store; never who. */
export interface ForgottenRecord {
  [field: string]: unknown;
  id: string;
  requestId: string;
  requestedBy: string | null;
  /** The task that applied it (`embedded`, or the Kafka task id). */
  task: string;
  /** Processing time, epoch ms. */
  at: number;
  /** Entries removed (or rewritten) per store, `<step>.<store>`, every store of every stateful step. */
  stores: Record<string, number>;
  total: number;
}

const isText = (v: unknown): v is string => typeof v === 'string' && v !== '';

/**
 * The request a `forget` event makes, or why it makes none.
 *
 * @example
 * ```ts
 * forgetRequestOf({ messageId: 'f1', type: 'forget', userId: 'u1', anonymousId: null, timestamp: 0, properties: { requestedBy: 'dpo' } });
 * // { ok: true, request: { requestId: 'f1', requestedBy: 'dpo', subject: { identifiers: [{ field: 'userId', value: 'u1' }], personIds: [] } } }
 * ```
 */
export function forgetRequestOf(event: TributaryEvent): { ok: true; request: ForgetRequest } | { ok: false; detail: string } {
  const props = event.properties ?? {};
  const identifiers: SubjectIdentifier[] = [];
  const seen = new Set<string>();
  const add = (field: string, value: string) => {
    const k = `${field}:${value}`;
    if (seen.has(k)) return;
    seen.add(k);
    identifiers.push({ field, value });
  };
  if (isText(event.userId)) add('userId', event.userId);
  if (isText(event.anonymousId)) add('anonymousId', event.anonymousId);
  const extra = props.identifiers;
  if (extra !== undefined) {
    if (!Array.isArray(extra)) return { ok: false, detail: 'properties.identifiers must be a list of { field, value }' };
    for (const i of extra as unknown[]) {
      const { field, value } = (i ?? {}) as Record<string, unknown>;
      if (!isText(field) || !isText(value)) return { ok: false, detail: 'properties.identifiers must be a list of { field, value } with non-empty strings' };
      add(field, value);
    }
  }
  const personIds = new Set<string>();
  for (const p of [props.personId, ...(Array.isArray(props.personIds) ? props.personIds : props.personIds === undefined ? [] : [props.personIds])]) {
    if (p === undefined || p === null) continue;
    if (!isText(p)) return { ok: false, detail: 'properties.personId and properties.personIds must be non-empty strings' };
    personIds.add(p);
  }
  if (identifiers.length === 0 && personIds.size === 0) {
    return { ok: false, detail: 'a forget request names nobody: set userId, anonymousId or properties.personId' };
  }
  const requestedBy = isText(props.requestedBy) ? props.requestedBy : null;
  return { ok: true, request: { requestId: event.messageId, requestedBy, subject: { identifiers, personIds: [...personIds] } } };
}

/**
 * The forget event that carries `request` on (Kafka: to the next sub-topology), its subject
 * as widened here, so the tasks downstream forget every identifier and person id found.
 */
export function forgetEventOf(request: ForgetRequest, event: TributaryEvent): TributaryEvent {
  const { identifiers, personIds } = request.subject;
  return { ...event, properties: { ...(event.properties ?? {}), identifiers, personIds } };
}

/** One step's forgetting: its definition's `forget`, else every store scrubbed of the subject's terms. */
export function forgetStep(def: OperatorDefinition<unknown, unknown>, config: unknown, store: <K extends StoreKey, V>(name: string) => KeyValueStore<K, V>, subject: ForgetSubject): ForgetOutcome {
  return def.forget ? def.forget(config, store, subject) : { subject, removed: scrubStores(def.stores(config), (n) => store(n), subjectTerms(subject)) };
}

/** One stateful step as {@link forgetInSteps} sees it. */
export interface ForgettingStep {
  step: CompiledStep;
  /** Opens a store of the step by its short name. */
  store: <K extends StoreKey, V>(name: string) => KeyValueStore<K, V>;
}

/**
 * Runs every stateful step's forgetting in step order, each seeing the subject as the steps
 * before it widened it; `recreate` is called for each step that removed something (its logic
 * must be made again from what is left). Returns the entries removed per `<step>.<store>`, and the subject
 * as the last step left it.
 */
export function forgetInSteps(steps: readonly ForgettingStep[], subject: ForgetSubject, recreate: (step: CompiledStep) => void): { stores: Record<string, number>; subject: ForgetSubject } {
  const stores: Record<string, number> = {};
  let current = subject;
  for (const { step, store } of steps) {
    const def = step.definition as OperatorDefinition<unknown, unknown>;
    const names = def.stores(step.config);
    if (names.length === 0) continue;
    let outcome: ForgetOutcome;
    try {
      outcome = forgetStep(def, step.config, store, current);
    } catch (error) {
      // What it removed before it threw is gone: its logic must not keep it either.
      recreate(step);
      throw error;
    }
    for (const name of names) stores[`${step.name}.${name}`] = outcome.removed[name] ?? 0;
    current = outcome.subject;
    // Nothing removed: the state, and so what the logic holds in memory, is as it was.
    if (Object.values(outcome.removed).some((n) => n > 0)) recreate(step);
  }
  return { stores, subject: current };
}

/**
 * The audit record of `request` in task `task`: its id is derived from the request and the
 * task, so a replay writes the same id.
 */
export function forgottenRecord(request: ForgetRequest, task: string, at: number, stores: Record<string, number>): ForgottenRecord {
  const total = Object.values(stores).reduce((a, b) => a + b, 0);
  return { id: deriveId(FORGOTTEN_STREAM, request.requestId, task), requestId: request.requestId, requestedBy: request.requestedBy, task, at, stores, total };
}

/** What {@link applyForgetEvent} needs of the task it runs in. */
export interface ForgetEnv {
  /** The stateful steps, in order, with their stores. */
  steps: readonly ForgettingStep[];
  /** Makes a step's logic again from its (now smaller) state. */
  recreate: (step: CompiledStep) => void;
  task: string;
  now: () => number;
  write: (stream: string, record: Record<string, unknown>) => void;
  /** A request the task cannot apply: a dead letter with this detail. */
  reject: (detail: string) => void;
  /** Set when the task's events go on to another task (Kafka repartition): the widened request goes with them. */
  forward?: (event: TributaryEvent) => void;
  /** The Kafka runtime (steps split over tasks): a global-table step's state cannot be forgotten there. */
  distributed: boolean;
}

/**
 * Applies a `forget` event in a task: every stateful step forgets the subject, the audit record
 * goes to `forgotten`, and the widened request on to the next task when there is one.
 */
export function applyForgetEvent(event: TributaryEvent, env: ForgetEnv): void {
  const parsed = forgetRequestOf(event);
  if (!parsed.ok) {
    env.reject(parsed.detail);
    return;
  }
  const tableStep = env.steps.find((s) => s.step.partitioning === 'global-table');
  if (tableStep && env.distributed) {
    env.reject(`${tableStep.step.name}: forgetting a person is not supported with joinIdentity mode: global-table (the global table is written by one resolver task and read by all); use the default mode`);
    return;
  }
  const { request } = parsed;
  let done: ReturnType<typeof forgetInSteps>;
  try {
    done = forgetInSteps(env.steps, request.subject, env.recreate);
  } catch (error) {
    // A store refused a key of the request (one too long to store, say): a dead letter, not a stop.
    env.reject(`the request could not be applied in full (send it again once fixed): ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  env.write(FORGOTTEN_STREAM, forgottenRecord(request, env.task, env.now(), done.stores));
  env.forward?.(forgetEventOf({ ...request, subject: done.subject }, event));
}
