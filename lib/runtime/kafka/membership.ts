/**
 * The instance's membership of its consumer group: the consumer that joins it (subscribed to the
 * source and every repartition topic; its assignment changes go to the task manager, its batches
 * to the stream thread), a new one when the group dropped the instance, and the leave at the stop.
 *
 * Dropped from the group (no heartbeat within the session timeout, a rebalance it missed: the
 * coordinator no longer knows the member, and kafkajs gave up rejoining by itself), the instance
 * does what a Kafka Streams thread does: its tasks are lost (closed without committing: their
 * partitions may have been processed by another instance since), a new consumer joins, and the
 * tasks it is given open and restore as after any rebalance. A consumer failure that is not about
 * membership, or a rejoin that keeps failing (the brokers unreachable), stops the run.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsumedBatch, KafkaConsumer } from './client.js';
import { lostMembership } from './kafka-errors.js';
import { messageOf, type RunContext } from './run-context.js';
import { STOP_STEP_TIMEOUT_MS, within } from './stop-deadline.js';
import type { TaskManager } from './task-manager.js';

/** Attempts to join again after being dropped, before the run stops. */
export const MAX_REJOIN_ATTEMPTS = 5;

export class GroupMembership {
  private consumer: KafkaConsumer | undefined;
  /** Rejoins, one after the other (a consumer may fail again while the one before rejoins). */
  private rejoins: Promise<void> = Promise.resolve();
  private readonly leaving = new AbortController();
  /** One rebalance may revoke and assign: counted once. */
  private counted = false;

  constructor(
    private readonly ctx: RunContext,
    private readonly manager: TaskManager,
    private readonly inputs: string[],
    private readonly eachBatch: (batch: ConsumedBatch) => Promise<void>,
  ) {}

  /** Creates a consumer, subscribes it and joins the group (resolves once kafkajs joined). */
  async join(): Promise<void> {
    const { ctx, manager } = this;
    const sessionTimeout = ctx.options.sessionTimeoutMs ?? 30_000;
    const consumer = await ctx.options.adapter.consumer({
      groupId: ctx.app, readCommitted: true, sessionTimeout, heartbeatInterval: Math.min(3000, Math.floor(sessionTimeout / 3)), maxWaitTimeInMs: 200,
    });
    this.consumer = consumer;
    ctx.consumer = consumer;
    // A consumer that was replaced (dropped from the group) tells nothing any more.
    const current = () => this.consumer === consumer;
    consumer.onAssign((tps) => {
      if (!current()) return;
      manager.assign(tps);
      this.rebalanced();
    });
    consumer.onRevoke((tps) => {
      if (!current()) return;
      manager.revoke(tps);
      for (const tp of tps) ctx.metrics.consumerLag.remove({ pipeline: ctx.app, topic: tp.topic, partition: String(tp.partition) });
      this.rebalanced();
    });
    consumer.onCrash((error) => {
      if (!current() || ctx.stopping) return;
      if (!lostMembership(error)) {
        ctx.fail(error);
        return;
      }
      this.rejoins = this.rejoins.then(() => this.rejoin(consumer, error)).catch((e: unknown) => ctx.fail(e));
    });
    await consumer.subscribe(this.inputs, { fromBeginning: true });
    await consumer.run({ eachBatch: this.eachBatch });
  }

  /** The stop: waits for a rejoin under way, then leaves the group (the batch in hand finishes first). */
  async leave(): Promise<void> {
    this.leaving.abort();
    await within(this.rejoins, this.stepTimeout, 'the rejoin under way', this.ctx.log);
    await this.consumer?.disconnect().catch(() => undefined);
  }

  private get stepTimeout(): number {
    return this.ctx.options.stopStepTimeoutMs ?? STOP_STEP_TIMEOUT_MS;
  }

  private rebalanced(): void {
    const { ctx } = this;
    ctx.metrics.assignedPartitions.set({ pipeline: ctx.app }, ctx.consumer.assignment().length);
    if (this.counted) return;
    this.counted = true;
    ctx.metrics.rebalances.inc({ pipeline: ctx.app });
    queueMicrotask(() => (this.counted = false));
  }

  private async rejoin(dropped: KafkaConsumer, error: Error): Promise<void> {
    const { ctx } = this;
    if (this.consumer !== dropped || ctx.stopping) return;
    ctx.log(`dropped from consumer group ${ctx.app} (${messageOf(error).split('\n')[0]}): its tasks are lost (closed without committing); joining again`);
    this.consumer = undefined;
    await this.manager.loseAll();
    // kafkajs may ignore the disconnect of a consumer it is reconnecting (kafkajs#1147): join anyway.
    await within(dropped.disconnect(), this.stepTimeout, 'disconnecting the dropped consumer', ctx.log);
    for (let attempt = 1; !ctx.stopping; attempt++) {
      try {
        await this.join();
        ctx.log(`joined consumer group ${ctx.app} again`);
        return;
      } catch (e) {
        // join() may have created the consumer before it failed
        const failed = this.consumer as KafkaConsumer | undefined;
        if (failed) await within(failed.disconnect(), this.stepTimeout, 'disconnecting a consumer that failed to join', ctx.log);
        this.consumer = undefined;
        if (attempt >= MAX_REJOIN_ATTEMPTS) {
          ctx.fail(new Error(`dropped from consumer group ${ctx.app}, and joining it again failed ${attempt} times (${messageOf(e)}); check that the brokers are up, then run again`, { cause: e }));
          return;
        }
        await sleep(1000 * 2 ** (attempt - 1), undefined, { signal: this.leaving.signal }).catch(() => undefined);
      }
    }
  }
}
