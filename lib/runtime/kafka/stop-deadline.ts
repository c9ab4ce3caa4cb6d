/**
 * A stop must end. kafkajs's `disconnect` can wait for good: a consumer that is reconnecting
 * ignores it (kafkajs#1147), one whose batch handler never returns waits for that batch
 * ("waiting for consumer to finish…", once a second), and a producer's last request can hang on
 * a broker that went away. The runner therefore gives each step of its stop (the rejoin under way,
 * leaving the group, closing the tasks, the producers, the admin) a deadline: past it the step is
 * logged by name and left behind, and the stop goes on. What was processed was committed before
 * these steps (or is processed again by the partition's next owner, as after a crash); the CLI
 * exits even if a client left a socket or timer behind.
 */

/** How long one step of the stop may take before it is left behind; `stopStepTimeoutMs` overrides. */
export const STOP_STEP_TIMEOUT_MS = 30_000;

/**
 * Waits for `work` at most `ms`: resolves when it settles (an error is the caller's to have
 * handled; it is ignored here), or after `ms` with a line to `log` naming `what`.
 *
 * @example
 * ```ts
 * await within(consumer.disconnect(), 30_000, 'leaving the consumer group', log);
 * ```
 */
export async function within(work: Promise<unknown>, ms: number, what: string, log: (line: string) => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), ms)));
  const timedOut = await Promise.race([work.then(() => false, () => false), late]);
  clearTimeout(timer);
  if (timedOut) log(`stop: ${what} did not finish within ${ms / 1000} s; going on without it`);
}
