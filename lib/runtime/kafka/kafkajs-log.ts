/**
 * kafkajs's log, routed to the run's logger as one plain line per entry (kafkajs prints JSON
 * objects with stack traces by default): `kafkajs error: [BrokerPool] Failed to connect …`.
 * Two kinds of noise are dropped: the same message again within 30 s (a broker that is down is
 * reported once, not on every retry), and the error kafkajs logs for a CreateTopics response
 * with per-topic errors, which the caller receives and handles anyway (the runtime creates only
 * missing topics, and a topic another instance created meanwhile is not a failure).
 */
import kafkajs, { type logCreator } from 'kafkajs';

export type KafkaLogLevelName = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

/** kafkajs's level for a name. */
export function kafkajsLevel(name: KafkaLogLevelName): kafkajs.logLevel {
  const { logLevel } = kafkajs;
  return { nothing: logLevel.NOTHING, error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO, debug: logLevel.DEBUG }[name];
}

const NAMES: Record<number, string> = {
  [kafkajs.logLevel.ERROR]: 'error',
  [kafkajs.logLevel.WARN]: 'warn',
  [kafkajs.logLevel.INFO]: 'info',
  [kafkajs.logLevel.DEBUG]: 'debug',
};

/** The line for one kafkajs log entry, or undefined to drop it (pure). */
export function kafkajsLine(level: number, entry: { message?: string; error?: string }): string | undefined {
  const message = entry.message ?? '';
  if (/Response CreateTopics/.test(message) && /Topic creation errors/.test(entry.error ?? '')) return undefined;
  return `kafkajs ${NAMES[level] ?? 'log'}: ${message}${entry.error && !message.includes(entry.error) ? `: ${entry.error}` : ''}`;
}

/**
 * A kafkajs `logCreator` writing through `log`.
 *
 * @example
 * ```ts
 * new Kafka({ brokers, logCreator: kafkajsLogCreator((line) => process.stderr.write(`${line}\n`)) });
 * ```
 */
export function kafkajsLogCreator(log: (line: string) => void, now: () => number = () => performance.now()): logCreator {
  const seen = new Map<string, number>();
  return () => ({ level, log: entry }) => {
    const line = kafkajsLine(level, entry as { message?: string; error?: string });
    if (line === undefined) return;
    const t = now();
    const last = seen.get(line);
    if (last !== undefined && t - last < 30_000) return;
    seen.set(line, t);
    if (seen.size > 1000) seen.clear();
    log(line);
  };
}
