/**
 * The `run` command's decisions that are not the run itself: which flags contradict the mode
 * (embedded with `--input`, Kafka without), and what a finished run's dead letters say. Pure:
 * the command reports and exits.
 */

/** Where a flag's value came from (commander's `getOptionValueSource`). */
export type FlagSource = (flag: string) => 'cli' | 'default' | 'env' | 'config' | 'implied' | undefined;

const KAFKA_ONLY = ['brokers', 'bounded', 'schemaRegistry', 'sessionTimeout', 'commitInterval',
  'tls', 'tlsCa', 'tlsCert', 'tlsKey', 'tlsSkipVerify', 'saslMechanism', 'saslUsername', 'saslPasswordFile', 'schemaRegistryUsername', 'schemaRegistryPasswordFile'] as const;
const EMBEDDED_ONLY = ['outDir', 'format', 'checkpointEvery', 'restart'] as const;
const FLAG: Record<string, string> = {
  brokers: '--brokers', bounded: '--bounded', schemaRegistry: '--schema-registry', sessionTimeout: '--session-timeout',
  commitInterval: '--commit-interval', tls: '--tls', tlsCa: '--tls-ca', tlsCert: '--tls-cert', tlsKey: '--tls-key', tlsSkipVerify: '--tls-skip-verify',
  saslMechanism: '--sasl-mechanism', saslUsername: '--sasl-username', saslPasswordFile: '--sasl-password-file',
  schemaRegistryUsername: '--schema-registry-username', schemaRegistryPasswordFile: '--schema-registry-password-file', outDir: '--out-dir', format: '--format', checkpointEvery: '--checkpoint-every', restart: '--restart', input: '--input',
};

/**
 * The first flag given on the command line that the mode would ignore, as the error to print
 * (exit 2), or undefined. Embedded = `--input` given.
 *
 * @example
 * ```ts
 * conflictingFlag((f) => (f === 'input' || f === 'bounded' ? 'cli' : undefined), { checkpointEvery: 10_000 });
 * // '--bounded is for Kafka runs; with --input the run is embedded and would ignore it'
 * ```
 */
export function conflictingFlag(source: FlagSource, values: { checkpointEvery?: number }): string | undefined {
  const given = (f: string) => source(f) === 'cli';
  if (values.checkpointEvery !== undefined && values.checkpointEvery < 1) return '--checkpoint-every must be at least 1 (records between checkpoints)';
  if (given('input')) {
    if (given('brokers')) return '--input and --brokers: choose one (--input runs embedded over a file, --brokers against Kafka)';
    const ignored = KAFKA_ONLY.find(given);
    if (ignored) return `${FLAG[ignored]} is for Kafka runs; with --input the run is embedded and would ignore it`;
    return undefined;
  }
  const ignored = EMBEDDED_ONLY.find(given);
  if (ignored) return `${FLAG[ignored]} is for embedded runs (with --input); against Kafka it would be ignored`;
  if (given('final') && !given('bounded')) return '--final against Kafka needs --bounded (a live run has no end of input to close at)';
  return undefined;
}

/**
 * What a finished embedded run's dead letters call for: a warning when every record was one
 * (the wrong --format, a CSV without a mapping), a failure when their share passed `maxRatio`.
 *
 * @example
 * ```ts
 * deadLetterVerdict(100, { 'malformed-json': 100 }, undefined);
 * // { level: 'warning', message: 'all 100 records were dead letters (malformed-json 100): check --format and the source mapping' }
 * ```
 */
export function deadLetterVerdict(records: number, deadLetters: Record<string, number>, maxRatio: number | undefined): { level: 'warning' | 'failure'; message: string } | undefined {
  const dead = Object.values(deadLetters).reduce((a, b) => a + b, 0);
  if (records === 0 || dead === 0) return undefined;
  const reasons = Object.entries(deadLetters).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(', ');
  const ratio = dead / records;
  if (maxRatio !== undefined && ratio > maxRatio) {
    return { level: 'failure', message: `${dead} of ${records} records were dead letters (${reasons}): ${(100 * ratio).toFixed(1)}% is over --max-dead-letter-ratio ${maxRatio}` };
  }
  if (dead >= records) return { level: 'warning', message: `all ${records} records were dead letters (${reasons}): check --format and the source mapping` };
  return undefined;
}
