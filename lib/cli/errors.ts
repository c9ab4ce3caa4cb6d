/**
 * Runtime failures of the CLI as one line each, with what to do where there is something to do
 * (exit 1; the stack trace only with `--verbose`). Decided here from the error alone, so every
 * command reports the same failure the same way.
 */

interface NodeError extends Error {
  code?: string;
  path?: string;
  syscall?: string;
}

/** The error and its causes, outermost first. */
function chain(error: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    out.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}

const firstLine = (s: string) => s.split('\n')[0] as string;

/**
 * One line for a runtime failure (without the `error: ` prefix).
 *
 * @example
 * ```ts
 * describeFailure(Object.assign(new Error('ENOENT: no such file or directory, open \'in.ndjson\''), { code: 'ENOENT', path: 'in.ndjson', syscall: 'open' }));
 * // "cannot open in.ndjson: no such file or directory (check the path)"
 * ```
 */
export function describeFailure(error: unknown, context: { brokers?: string } = {}): string {
  for (const e of chain(error)) {
    if (!(e instanceof Error)) continue;
    const n = e as NodeError;
    const where = n.path ?? '';
    if (n.code === 'ENOENT' && where) return `cannot ${n.syscall === 'mkdir' ? 'create' : 'open'} ${where}: no such file or directory (check the path)`;
    if (n.code === 'ENOTDIR' && where) return `${where}: a path through it is a file, not a directory (choose another --out-dir or --state-dir)`;
    if (n.code === 'EEXIST' && where) return `${where} exists and is not a directory (choose another --out-dir or --state-dir)`;
    if (n.code === 'EACCES' && where) return `permission denied: ${where}`;
    // Reading a directory as a file: the input (the output and state paths are directories).
    if (n.code === 'EISDIR') return `${where || 'the input'} is a directory, not a file: give --input a file (or - for stdin)`;
    // The operations endpoint's own failures already say what to do (and are not about Kafka).
    if (/^(cannot listen on |port \d+ on .* is in use)/.test(e.message)) return firstLine(e.message);
    if (n.code === 'ENOSPC') return `no space left on the device${where ? ` (writing ${where})` : ''}: free some space, then run the same command again to resume`;
    // Dropped from the group by the coordinator (no heartbeat within the session timeout): the
    // broker is up, the instance was too slow. Checked before the retries-exceeded wrapper below.
    const dropped = chain(e).find((x): x is Error => x instanceof Error && /not aware of this member|UNKNOWN_MEMBER_ID/i.test(`${x.name} ${x.message} ${(x as { type?: string }).type ?? ''}`));
    if (dropped) {
      return `Kafka${context.brokers ? ` at ${context.brokers}` : ''} dropped this instance from its consumer group (${firstLine(dropped.message)}): it sent no heartbeat within the session timeout (a busy machine or a slow batch); run it again (it resumes from its last commit), with a longer --session-timeout if this recurs`;
    }
    if (/KafkaJSConnectionError|KafkaJSNumberOfRetriesExceeded|KafkaJSNonRetriableError/.test(e.name) || /Connection error|ECONNREFUSED|getaddrinfo/.test(e.message)) {
      const root = chain(e).filter((x): x is Error => x instanceof Error).at(-1) as Error;
      return `cannot reach Kafka${context.brokers ? ` at ${context.brokers}` : ''} (${firstLine(root.message)}): is the broker running? (npm run kafka:start starts a local one)`;
    }
    if (/source topic .* does not exist/.test(e.message)) return `${firstLine(e.message)}: create it first (tributary topics <pipeline> --create, or kafka-topics.sh --create)`;
  }
  const top = error instanceof Error ? error : new Error(String(error));
  return firstLine(top.message) || top.name;
}
