// Helpers for integration tests against the real broker that scripts/test.mjs provides
// (KAFKA_BROKERS), or the reason there is none (TRIBUTARY_KAFKA_UNAVAILABLE).
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Admin } from 'kafkajs';

/**
 * The bootstrap brokers of this test run, from KAFKA_BROKERS ("host:port,host:port").
 * @example
 *   test('reads back', { skip: kafkaBrokers() ? false : skipReason() }, async () => {});
 */
export function kafkaBrokers(): string[] | undefined {
  const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter(Boolean);
  return brokers.length > 0 ? brokers : undefined;
}

/**
 * Why integration tests skip: the reason scripts/test.mjs found no broker, or a hint to run
 * them through `npm test`.
 * @example
 *   const skip = kafkaBrokers() ? false : skipReason();
 */
export function skipReason(): string {
  return process.env.TRIBUTARY_KAFKA_UNAVAILABLE || 'KAFKA_BROKERS not set: run through npm test';
}

/**
 * A topic / group / transactional id no other test (or earlier run on the same broker) uses.
 * @example
 *   const topic = uniqueName('orders'); // 'orders-4242-m3k9x1-a1b2c3'
 */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * A kafkajs client for the run's broker, silent (tests assert on results, not logs).
 * @example
 *   const producer = kafkaClient().producer();
 */
export function kafkaClient(clientId = 'tributary-test'): Kafka {
  const brokers = kafkaBrokers();
  if (!brokers) throw new Error(`no Kafka broker: ${skipReason()}`);
  return new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING });
}

async function withAdmin<T>(use: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafkaClient('tributary-test-admin').admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Options of {@link createTopic}. */
export interface CreateTopicOptions {
  /** Number of partitions; default 1. */
  partitions?: number;
  /** Topic configs, e.g. `{ 'cleanup.policy': 'compact' }`. */
  configs?: Record<string, string>;
}

/**
 * Creates `name` and waits until every partition has a leader, so producing right away does not
 * meet UNKNOWN_TOPIC_OR_PARTITION. Delete it again with {@link deleteTopics}.
 * @example
 *   const topic = await createTopic(uniqueName('events'), { partitions: 3 });
 *   t.after(() => deleteTopics(topic));
 */
export async function createTopic(name: string, options: CreateTopicOptions = {}): Promise<string> {
  const { partitions = 1, configs = {} } = options;
  await withAdmin(async (admin) => {
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [{
        topic: name,
        numPartitions: partitions,
        configEntries: Object.entries(configs).map(([configName, value]) => ({ name: configName, value })),
      }],
    });
    if (!created) throw new Error(`topic ${name} already exists: use uniqueName() for test topics`);
  });
  return name;
}

/**
 * Deletes topics created by a test (missing ones are fine, so it suits `after` hooks).
 * @example
 *   await deleteTopics(input, output);
 */
export async function deleteTopics(...names: string[]): Promise<void> {
  if (names.length === 0) return;
  await withAdmin(async (admin) => {
    const existing = new Set(await admin.listTopics());
    const topics = names.filter((n) => existing.has(n));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  });
}
