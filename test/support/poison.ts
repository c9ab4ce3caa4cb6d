/**
 * `poison`: a test operator that throws on chosen events, to show what the runtimes do with a
 * record a step throws on. Keyed by `anonymousId` (else `userId`); per key it remembers how many events it saw
 * (store `seen`) and sets a timer at each event's time + 1 min that emits a `ticks` record
 * `{ key, at }` when it fires.
 *
 * - `throwOn`: messageIds whose processing throws (after nothing was written).
 * - `throwOnTimerOf`: keys whose timer callback throws when it fires.
 * - `stateFailureOn`: messageIds whose processing meets the error lmdb-js throws for a damaged
 *   file (`MDB_PAGE_NOTFOUND`), as a read of the step's store would.
 */
import { defineOperator, type OperatorContext, type OperatorLogic, type OperatorRegistry, type OperatorDefinition } from '../../lib/operator/contract.js';
import type { TributaryEvent } from '../../lib/event/event.js';
import { MemoryTimers } from '../../lib/time/timers.js';
import { defaultRegistry } from '../../operators/index.js';

export interface PoisonOptions {
  throwOn?: string[];
  throwOnTimerOf?: string[];
  stateFailureOn?: string[];
}

class PoisonLogic implements OperatorLogic {
  private readonly timers = new MemoryTimers<string>();
  private readonly seen;

  constructor(private readonly options: PoisonOptions, private readonly ctx: OperatorContext) {
    this.seen = ctx.store<string, number>('seen');
  }

  process(event: TributaryEvent, key: string): TributaryEvent {
    if (this.options.throwOn?.includes(event.messageId)) throw new Error(`boom on ${event.messageId}`);
    if (this.options.stateFailureOn?.includes(event.messageId)) throw new Error('MDB_PAGE_NOTFOUND: Requested page not found');
    this.seen.put(key, (this.seen.get(key) ?? 0) + 1);
    this.timers.register({ id: `${key}:${event.timestamp}`, time: event.timestamp + 60_000, data: key });
    return event;
  }

  advance(watermark: number): void {
    this.timers.fireDue(watermark, (timer) => {
      if (this.options.throwOnTimerOf?.includes(timer.data)) throw new Error(`timer boom for ${timer.data}`);
      this.ctx.emit('ticks', { key: timer.data, at: timer.time });
    });
  }
}

export const poisonOperator = defineOperator<PoisonOptions, PoisonOptions>({
  name: 'poison',
  summary: 'test operator: throws on chosen events or timers',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { throwOn: { type: 'array', items: { type: 'string' } }, throwOnTimerOf: { type: 'array', items: { type: 'string' } }, stateFailureOn: { type: 'array', items: { type: 'string' } } },
  },
  resolve: (o) => o,
  keyPaths: () => ['anonymousId', 'userId'],
  partitioning: () => 'any',
  outputs: () => [{ stream: 'ticks', kind: 'ticks' }],
  stores: () => ['seen'],
  immutableState: true,
  create: (o, ctx) => new PoisonLogic(o, ctx),
});

/** The built-in operators and `poison`. */
export const poisonRegistry: OperatorRegistry = new Map<string, OperatorDefinition<never, never>>([
  ...defaultRegistry,
  ['poison', poisonOperator as unknown as OperatorDefinition<never, never>],
]);
