/**
 * A task runs a compiled topology over one input: decode → normalise → key → lateness →
 * steps → outputs, with the stores of one {@link StoreFactory} and one watermark tracker.
 * One per embedded run or test driver, one per Kafka input partition; synchronous between checkpoints.
 */
import { countRuleOutcome, TaskGauges } from './task-metrics.js';
import type { TributaryEvent } from '../event/event.js';
import { resolveKey } from '../event/key.js';
import type { RejectReason } from '../event/mapping.js';
import { tally } from '../metrics/metrics.js';
import { annotatedCopy, type DerivedRecord, type OperatorContext, type OperatorLogic } from '../operator/contract.js';
import type { CompiledStep } from '../pipeline/compile.js';
import { CachingStoreFactory } from '../state/caching.js';
import { stateEngineFailure } from '../state/failure.js';
import { InvalidKeyError } from '../state/key-order.js';
import type { StoreKey } from '../state/store.js';
import { TimeJumpGuard } from '../time/time-jump.js';
import { TimerFailures } from '../time/timers.js';
import { WatermarkTracker, type WatermarkSnapshot } from '../time/watermark.js';
import { ProcessingError, safeJson, sourceOf, type DeadLetterRecord, type RecordOrigin, type SourceInput } from './records.js';
import { createSourceNormalizer, type SourceNormalizer } from './source-normalizer.js';
import { applyForgetEvent } from './forget.js';
import type { TaskOptions } from './task-options.js';

export { ProcessingError, safeJson, sourceOf, type DeadLetterRecord, type RecordOrigin, type SourceInput } from './records.js';

export type { OutputFn, TaskOptions } from './task-options.js';

interface StepInstance {
  step: CompiledStep;
  logic: OperatorLogic;
  in: { inc(): void };
  dropped: Map<string, { inc(): void }>;
  outcomes: Map<string, { inc(): void }>;
}

/**
 * Runs a topology.
 *
 * @example
 * ```ts
 * const task = new Task({ topology, stores: new MemoryStoreFactory(), clock: systemClock, metrics: createMetrics(), output: (s, r) => console.log(s, r) });
 * task.ingest({ ok: true, value: { messageId: 'm1', type: 'track', event: 'view', anonymousId: 'a', timestamp: 0 }, raw: '…', source: 'in.ndjson:1' });
 * task.endOfInput();
 * await task.checkpoint();
 * ```
 */
export class Task {
  readonly watermarks: WatermarkTracker;
  /** The task's stores, always with the caching layer in front. */
  readonly stores: CachingStoreFactory;
  private readonly steps: StepInstance[];
  private lastAdvanced = -Infinity;
  /** The event the steps are processing, when the task owns it (see {@link OperatorContext.annotate}). */
  private flowing: TributaryEvent | undefined;
  private readonly normalize: SourceNormalizer;
  private readonly jumps: TimeJumpGuard;
  private readonly gauges: TaskGauges;
  private readonly pipeline: string;
  private sampled = 0;
  private emittedEvents = 0;
  private readonly timing: { processing: { observe(v: number): void }; endToEnd: { observe(v: number): void } };
  private readonly counters: {
    source: { inc(): void };
    late: { inc(): void };
    dead: Map<string, { inc(): void }>;
    stream: Map<string, { inc(): void }>;
  };

  constructor(private readonly options: TaskOptions) {
    const { topology, metrics, clock } = options;
    this.stores = options.stores instanceof CachingStoreFactory ? options.stores : new CachingStoreFactory(options.stores);
    this.pipeline = topology.name;
    this.normalize = createSourceNormalizer(topology.source, clock);
    this.jumps = new TimeJumpGuard(topology.source.maxTimeJumpMs, topology.source.maxFutureJumpMs, options.clock);
    this.watermarks = new WatermarkTracker({
      allowedLateness: topology.source.allowedLatenessMs,
      idleTimeout: topology.source.idleTimeoutMs,
      clock,
    });
    const pipeline = this.pipeline;
    this.gauges = new TaskGauges({ metrics, pipeline, task: options.id ?? 'embedded' }, topology, options.sourceName ?? 'source');
    this.counters = {
      source: tally(metrics.sourceRecords, { pipeline }),
      late: tally(metrics.lateRecords, { pipeline }),
      dead: new Map(),
      stream: new Map(),
    };
    this.timing = {
      processing: metrics.processingLatency.labels({ pipeline }),
      endToEnd: metrics.endToEndLatency.labels({ pipeline }),
    };
    this.steps = topology.steps.map((step) => {
      const instance: StepInstance = {
        step,
        logic: undefined as unknown as OperatorLogic,
        in: tally(metrics.recordsIn, { pipeline, step: step.name }),
        dropped: new Map(),
        outcomes: new Map(),
      };
      const ctx = this.contextFor(instance);
      instance.logic = options.createLogic?.(step, ctx) ?? step.definition.create(step.config as never, ctx);
      return instance;
    });
  }

  private contextFor(instance: StepInstance): OperatorContext {
    const { clock, metrics } = this.options;
    const stores = this.stores;
    const step = instance.step.name;
    const pipeline = this.pipeline;
    const out = new Map<string, { inc(): void }>();
    return {
      pipeline,
      step,
      clock,
      store: <K extends StoreKey, V>(name: string) => stores.open<K, V>(`${step}.${name}`, { clone: instance.step.definition.immutableState !== true }),
      emit: (stream, record) => {
        let c = out.get(stream);
        if (!c) out.set(stream, (c = tally(metrics.recordsOut, { pipeline, step, stream })));
        c.inc();
        // The event flowing through the steps may still be annotated in place by a later step:
        // what goes to an output (route, filter) is a copy of it.
        if (record === this.flowing) record = { ...record };
        // A step may reject an event (validate): it goes to dead-letter, counted by reason.
        if (stream === 'dead-letter') this.deadLetter(record as DeadLetterRecord);
        else this.write(stream, record);
      },
      count: (outcome, rule) => {
        if (rule !== undefined && countRuleOutcome(metrics, pipeline, step, rule, outcome) === 'only') return;
        let c = instance.outcomes.get(outcome);
        if (!c) instance.outcomes.set(outcome, (c = tally(metrics.stepOutcomes, { pipeline, step, outcome })));
        c.inc();
      },
      drop: (reason) => {
        let c = instance.dropped.get(reason);
        if (!c) instance.dropped.set(reason, (c = tally(metrics.recordsDropped, { pipeline, step, reason })));
        c.inc();
      },
      watermark: () => this.watermarks.current(),
      annotate: <E extends TributaryEvent>(event: E, field: string, value: unknown): E => {
        if (event !== this.flowing) return annotatedCopy(event, field, value);
        (event as Record<string, unknown>)[field] = value;
        return event;
      },
    };
  }

  private write(stream: string, record: DerivedRecord): void {
    if (this.options.countsStreams === false || (stream === 'events' && this.options.eventsAreSink === false)) {
      this.options.output(stream, record);
      return;
    }
    let c = this.counters.stream.get(stream);
    if (!c) this.counters.stream.set(stream, (c = tally(this.options.metrics.streamRecords, { pipeline: this.pipeline, stream })));
    c.inc();
    this.options.output(stream, record);
  }

  /** Sends a record to the dead-letter stream, counted by reason. */
  deadLetter(record: DeadLetterRecord): void {
    let c = this.counters.dead.get(record.reason);
    if (!c) this.counters.dead.set(record.reason, (c = tally(this.options.metrics.deadLetters, { pipeline: this.pipeline, reason: record.reason })));
    c.inc();
    this.write('dead-letter', record);
  }

  /** Processes one source record: normalise, key, lateness, steps. */
  ingest(input: SourceInput): void {
    this.counters.source.inc();
    if ((++this.sampled & 63) === 0) {
      const t0 = performance.now();
      this.ingestOne(input);
      this.timing.processing.observe((performance.now() - t0) / 1000);
      return;
    }
    this.ingestOne(input);
  }

  private ingestOne(input: SourceInput): void {
    if (!input.ok) return this.refuse(input, input.reason, input.detail);
    const { source } = this.options.topology;
    const n = this.normalize(input.value);
    if (!n.ok) return this.refuse(input, n.reason, n.detail);
    if (n.event.type === 'forget') return this.forget(n.event, input);
    const partition = input.partition ?? '0';
    const jump = this.jumps.check(partition, n.event.timestamp);
    if (jump !== undefined) return this.refuse(input, 'time-jump', jump);
    this.gauges.quality.observe(n.event);
    if (source.key && resolveKey(n.event, source.key) === undefined) return this.refuse(input, 'missing-key', `none of the source key fields ${source.key.join(', ')} is set`);
    // The normaliser made this event: the steps may annotate it in place.
    this.pipeEvent(n.event, partition, input, true);
  }

  /** A source record that does not become an event: a dead letter, counted by reason. */
  private refuse(input: RecordOrigin, reason: RejectReason, detail: string): void {
    this.gauges.quality.invalid(reason);
    this.deadLetter({ reason, detail, raw: input.raw, source: sourceOf(input) });
  }

  /**
   * Processes one normalised event (the test driver and embedding code call this directly).
   * A late event goes to `late` with the watermark it met; otherwise it runs through the steps.
   */
  pipe(event: TributaryEvent, partition = '0', input?: RecordOrigin): void {
    this.pipeEvent(event, partition, input, false);
  }

  private pipeEvent(event: TributaryEvent, partition: string, input: RecordOrigin | undefined, owned: boolean): void {
    if (event.type === 'forget') return this.forget(event, input);
    const now = this.options.clock.now(); // once per event: idle detection works in seconds
    const watermark = this.watermarks.current(now);
    if (event.timestamp < watermark) {
      this.counters.late.inc();
      this.write('late', { ...event, watermark });
      return;
    }
    this.watermarks.observe(partition, event.timestamp, now);
    this.runSteps(event, input, owned);
    this.advance(now);
  }

  /**
   * Processes an event that an upstream task already took through the source checks and
   * earlier steps (Kafka: read from a repartition topic). No lateness check: the upstream did
   * it, and this task's watermark comes from what its upstream tasks report
   * ({@link advanceWatermark}), which never passes an event still on its way. The event is the
   * task's own (decoded for it), so steps annotate it in place.
   */
  pipeForwarded(event: TributaryEvent, input?: RecordOrigin): void {
    if (event.type === 'forget') return this.forget(event, input);
    this.runSteps(event, input, true);
    this.advance();
  }

  /** Runs the steps; with `owned`, {@link OperatorContext.annotate} changes `event` in place. */
  private runSteps(event: TributaryEvent, input: RecordOrigin | undefined, owned: boolean): void {
    this.flowing = owned ? event : undefined;
    try {
      this.stepThrough(event, input);
    } finally {
      this.flowing = undefined;
    }
  }

  private stepThrough(event: TributaryEvent, input: RecordOrigin | undefined): void {
    let current: TributaryEvent | null = event;
    for (let i = 0; i < this.steps.length && current; i++) {
      const s = this.steps[i] as StepInstance;
      let key = '';
      if (s.step.key) {
        const k = resolveKey(current, s.step.key);
        if (k === undefined) {
          this.deadLetter({
            reason: 'missing-key',
            detail: `steps[${s.step.index}].${s.step.operator}: none of the key fields ${s.step.key.join(', ')} is set`,
            raw: input?.raw ?? JSON.stringify(current),
            source: input ? sourceOf(input) : `step ${s.step.name}`,
          });
          return;
        }
        key = k;
      }
      s.in.inc();
      try {
        current = s.logic.process(current, key);
      } catch (error) {
        const source = input ? sourceOf(input) : `step ${s.step.name}`;
        const reason = this.stepFailed(s, error, `threw on this record`, input?.raw ?? safeJson(current), source);
        let c = s.dropped.get(reason);
        if (!c) s.dropped.set(reason, (c = tally(this.options.metrics.recordsDropped, { pipeline: this.pipeline, step: s.step.name, reason })));
        c.inc();
        return;
      }
    }
    if (current) {
      // Every 64th event that reaches the end (its own count: pipe() and pipeForwarded() do not pass ingest()).
      if ((++this.emittedEvents & 63) === 0) this.timing.endToEnd.observe((this.options.clock.now() - current.timestamp) / 1000);
      this.write('events', current);
    }
  }

  /**
   * Applies an erasure request (a `forget` event, see `forget.ts`): never late, never moves the
   * watermark, never written to the `events` sink; the stateful steps forget the person, their
   * logic is made again from what is left, and the audit record goes to `forgotten`.
   */
  forget(event: TributaryEvent, input?: RecordOrigin): void {
    const { clock, createLogic, eventsAreSink } = this.options;
    const stateful = this.steps.filter((s) => s.step.stores.length > 0);
    applyForgetEvent(event, {
      steps: stateful.map((s) => ({ step: s.step, store: (name) => this.stores.open(`${s.step.name}.${name}`, { clone: s.step.definition.immutableState !== true }) })),
      recreate: (step) => {
        const s = stateful.find((x) => x.step === step) as StepInstance;
        const ctx = this.contextFor(s);
        s.logic = createLogic?.(step, ctx) ?? step.definition.create(step.config as never, ctx);
      },
      task: this.options.id ?? 'embedded', now: () => clock.now(), write: (stream, record) => this.write(stream, record), distributed: createLogic !== undefined,
      reject: (detail) => this.deadLetter({ reason: 'invalid-forget', detail, raw: input?.raw ?? safeJson(event), source: input ? sourceOf(input) : 'forget' }),
      ...(eventsAreSink === false ? { forward: (e: TributaryEvent) => this.options.output('events', e) } : {}),
    });
  }

  /** Re-evaluates the watermark (idle partitions release it with processing time) and lets steps fire. */
  advance(now?: number): void {
    const wm = this.watermarks.current(now);
    if (wm <= this.lastAdvanced) return;
    this.lastAdvanced = wm;
    for (const s of this.steps) {
      try {
        s.logic.advance?.(wm);
      } catch (error) {
        // A failed timer (or expiry) of one step: the other timers fired, the later steps advance.
        const failures = error instanceof TimerFailures ? error.failures : [{ id: undefined, time: wm, error }];
        for (const f of failures) {
          const what = f.id === undefined ? `threw when the watermark advanced to ${wm}` : `threw firing timer ${f.id} (due ${f.time}, watermark ${wm})`;
          this.stepFailed(s, f.error, what, '', `step ${s.step.name}`);
        }
      }
    }
  }

  /**
   * A step threw: the record becomes a dead letter (`invalid-key` when a store refused its key,
   * else `processing-error`) with the error message, or, with `onProcessingError: fail`, the run
   * stops with a {@link ProcessingError}; a state engine failure is rethrown. Returns the dead letter's reason. What the step changed in its state before it threw
   * stays (as in Kafka Streams' processing exception handler): operators validate first and
   * write last, so that is rarely anything.
   */
  private stepFailed(s: StepInstance, error: unknown, what: string, raw: string, source: string): RejectReason {
    if (stateEngineFailure(error)) throw error; // the state's, not the record's: the run stops
    const message = error instanceof Error ? error.message : String(error);
    const detail = `steps[${s.step.index}].${s.step.operator} (${s.step.name}) ${what}: ${message}`;
    if (this.options.topology.onProcessingError === 'fail') {
      throw new ProcessingError(`${source}: ${detail} (onProcessingError: fail stops the run here; fix the step or the record, or set onProcessingError: dead-letter)`, s.step.name, source, { cause: error });
    }
    const reason = error instanceof InvalidKeyError ? 'invalid-key' : 'processing-error';
    this.deadLetter({ reason, detail, raw, source });
    return reason;
  }

  /** Forces the watermark to at least `time` (test driver), firing what becomes due. */
  advanceWatermark(time: number): void {
    this.watermarks.advanceTo(time);
    this.advance();
  }
  /** Ends one bounded partition. */
  endPartition(partition = '0'): void {
    this.watermarks.end(partition);
    this.advance();
  }

  /** End of a bounded input: the watermark goes to +∞; every pending timer fires. */
  endOfInput(): void {
    this.watermarks.advanceTo(Infinity);
    this.advance();
  }

  /** The watermark state to persist with a checkpoint. */
  snapshot(): WatermarkSnapshot {
    return { ...this.watermarks.snapshot(), recent: this.jumps.snapshot() };
  }

  restore(snapshot: WatermarkSnapshot): void {
    this.watermarks.restore(snapshot);
    this.jumps.restore(snapshot.recent);
    this.lastAdvanced = this.watermarks.current();
  }

  /**
   * A key's current state in a step, for outside readers (`GET /state/<step>/<key>`): what the
   * operator's `query` returns, or `undefined` (unknown step, no query, unknown key). The query
   * is given the watermark the steps last advanced to, so it leaves out what that expired.
   */
  query(step: string, key: string): unknown {
    const s = this.steps.find((x) => x.step.name === step);
    const query = s?.step.definition.query;
    if (!s || !query) return undefined;
    return query(s.step.config as never, (name) => this.stores.open(`${step}.${name}`), key, this.lastAdvanced);
  }

  /**
   * Hands the state changed since the last call to the stores below the caching layer without
   * committing it (Kafka: right before the changelog batch is drained).
   */
  prepareCommit(): void {
    this.stores.writeDown();
    // Kafka commits every 100 ms per task: the gauges at most once a second.
    this.gauges.publish(this.watermarks.current(), this.options.clock.now(), this.stores, 1000);
  }

  /** Flushes every store (a checkpoint) and updates the watermark, store and data-quality gauges. */
  async checkpoint(): Promise<void> {
    this.gauges.publish(this.watermarks.current(), this.options.clock.now(), this.stores);
    await this.stores.flush();
  }
}
