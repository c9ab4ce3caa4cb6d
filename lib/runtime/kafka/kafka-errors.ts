/**
 * What a failed Kafka call says, for the runtime to decide what to do: pure functions over the
 * error and its causes (kafkajs's errors and the in-memory broker's have the same shape: Kafka's
 * error code as `type`, `retriable` as Kafka says).
 *
 * - {@link lostMembership}: the group moved on without this member (it was dropped, or a
 *   rebalance left its generation behind): join again, or leave the input to the next owner.
 * - {@link transient}: the brokers could not be reached or were not ready (a restart, a leader
 *   election): the same call later may work.
 * - {@link failureAdvice}: what to do about a task that keeps failing;
 * - {@link whatFailed}: what failed, in the log line of a task reopened from its last commit.
 */
import { stateEngineFailure } from '../../state/failure.js';
import { SchemaRegistryError } from '../../serde/schema-registry.js';


/**
 * Kafka's error codes that say the consumer is no longer a member of the group, or of its current
 * generation (a rebalance moved on without it).
 */
const MEMBERSHIP_ERRORS = new Set(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS', 'FENCED_INSTANCE_ID', 'MEMBER_ID_REQUIRED']);

/** kafkajs errors about reaching the brokers (its wrappers drop `retriable` from what they wrap). */
const CONNECTION_ERRORS = /^KafkaJS(ConnectionError|ConnectionClosedError|RequestTimeoutError|NoBrokerAvailableError|BrokerNotFound|LockTimeout)$/;

/** The error, its causes and, for an aggregate (kafkajs: `Topic creation errors`), what it holds. */
function chain(error: unknown): Error[] {
  const out: Error[] = [];
  const queue = [error];
  while (queue.length > 0 && out.length < 16) {
    const e = queue.shift();
    if (!(e instanceof Error)) continue;
    out.push(e);
    queue.push(e.cause);
    const inner = (e as { errors?: unknown }).errors;
    if (Array.isArray(inner)) queue.push(...inner);
  }
  return out;
}

/**
 * Whether a failure means the group moved on without this member rather than a failure of the
 * brokers or of the instance: some error in its chain has one of Kafka's membership error codes,
 * or says the coordinator does not know the member.
 *
 * @example
 * ```ts
 * lostMembership(Object.assign(new Error('The coordinator is not aware of this member'), { type: 'UNKNOWN_MEMBER_ID' })); // true
 * ```
 */
export function lostMembership(error: unknown): boolean {
  return chain(error).some((e) => {
    const type = (e as { type?: unknown }).type;
    return (typeof type === 'string' && MEMBERSHIP_ERRORS.has(type)) || /not aware of this member/i.test(e.message);
  });
}

/**
 * Whether a failure may go away by itself (a broker restarting, unreachable for a while, electing
 * leaders): some error in its chain is retriable as Kafka says, or a kafkajs connection error.
 * A membership error is not (the member must join again first), nor is anything else (a missing
 * topic partition, a damaged state file, an authorization error).
 *
 * @example
 * ```ts
 * transient(Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), { name: 'KafkaJSConnectionError', retriable: true })); // true
 * ```
 */
export function transient(error: unknown): boolean {
  if (lostMembership(error)) return false;
  return chain(error).some((e) => (e as { retriable?: unknown }).retriable === true || CONNECTION_ERRORS.test(e.name));
}

/**
 * What to do about a task that failed again and again at one input offset: about its state
 * directory when the failure is the state engine's (a damaged file, a full or read-only disk),
 * else about the brokers and topics.
 *
 * @example
 * ```ts
 * failureAdvice(new Error('MDB_MAP_FULL: Environment mapsize limit reached'), 'state/shop/0_1');
 * // 'check the disk under state/shop/0_1 (space, permissions), or delete that directory: the task rebuilds it from its changelogs; then run again'
 * ```
 */
export function failureAdvice(error: unknown, stateDir: string): string {
  if (stateEngineFailure(error)) return `check the disk under ${stateDir} (space, permissions), or delete that directory: the task rebuilds it from its changelogs; then run again`;
  const registry = chain(error).find((e): e is SchemaRegistryError => e instanceof SchemaRegistryError);
  if (registry) return `check that the schema registry at ${originOf(registry.url)} is up and answers, then run again`;
  return 'check that the brokers are up and the topics writable, then run again';
}

/** The scheme, host and port of a URL (no path, no credentials). */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/**
 * What failed, for the log line of a task reopened from its last commit: its state store (a
 * state engine failure, met by a step while processing or by the commit's flush), else the commit.
 *
 * @example
 * ```ts
 * whatFailed(new Error('MDB_CORRUPTED: Located page was wrong type')); // 'its state store failed'
 * whatFailed(new Error('The coordinator is not available'));          // 'commit failed'
 * ```
 */
export function whatFailed(error: unknown): string {
  return stateEngineFailure(error) ? 'its state store failed' : 'commit failed';
}
