/**
 * The test driver users import, like Kafka Streams' TopologyTestDriver: pipe
 * events in, move the watermark and processing time by hand, read every stream and store.
 * No broker, no files unless you ask for LMDB state; a driver reopened on the same `stateDir`
 * continues with the state and the watermark of the last `checkpoint()`/`close()`.
 */
import { Registry } from 'prom-client';
import type { TributaryEvent } from '../event/event.js';
import { createMetrics, type PipelineMetrics } from '../metrics/metrics.js';
import type { DerivedRecord, OperatorRegistry } from '../operator/contract.js';
import { compilePipeline, type Topology } from '../pipeline/compile.js';
import type { PipelineDefinition } from '../pipeline/definition.js';
import { parsePipeline, validatePipeline } from '../pipeline/load.js';
import { CachingStoreFactory } from '../state/caching.js';
import { LmdbStoreFactory } from '../state/engines/lmdb/env.js';
import { MemoryStoreFactory } from '../state/engines/memory.js';
import type { KeyValueStore, StoreFactory, StoreKey } from '../state/store.js';
import { ManualClock } from '../time/clock.js';
import { Task } from '../runtime/task.js';
import type { WatermarkSnapshot } from '../time/watermark.js';

const WATERMARK_KEY = 'driver-watermark';

export interface TestDriverOptions {
  /** The operators; pass `defaultRegistry` from `tributary/operators`. */
  registry: OperatorRegistry;
  /** Keep state in LMDB here (to test restarts); default in memory. */
  stateDir?: string;
  /**
   * Initial processing time. Default 0, and then `source.maxFutureSkew` is not applied (every
   * event would be ahead of 1970); give `now` to test it. (`source.maxTimeJump` and `maxFutureJump`
   * apply only when the definition sets them: tests jump ahead in event time on purpose.)
   */
  now?: number;
}

/**
 * Drives a pipeline in virtual time.
 *
 * @example
 * ```ts
 * const driver = TestDriver.fromYaml(yamlText, { registry: defaultRegistry });
 * driver.pipe({ messageId: 'm1', type: 'track', event: 'view', anonymousId: 'a', userId: null, timestamp: 0 });
 * driver.pipe({ messageId: 'm1', type: 'track', event: 'view', anonymousId: 'a', userId: null, timestamp: 0 });
 * driver.read('events').length;     // 1
 * driver.read('duplicates').length; // 1
 * await driver.close();
 * ```
 */
export class TestDriver {
  readonly clock: ManualClock;
  readonly metrics: PipelineMetrics;
  readonly topology: Topology;
  private readonly stores: StoreFactory;
  private readonly task: Task;
  private readonly streams = new Map<string, DerivedRecord[]>();

  constructor(definition: PipelineDefinition, options: TestDriverOptions) {
    const def = validatePipeline(definition, options.registry);
    this.topology = compilePipeline(def, options.registry);
    this.clock = new ManualClock(options.now ?? 0);
    this.metrics = createMetrics(new Registry());
    // The caching layer over LMDB or memory, as the runners assemble it.
    this.stores = new CachingStoreFactory(options.stateDir ? new LmdbStoreFactory({ path: options.stateDir }) : new MemoryStoreFactory());
    for (const s of this.topology.streams) this.streams.set(s.name, []);
    // Without a processing time to be ahead of, no event is in the future; a test's jumps in
    // event time are on purpose unless the definition bounds them.
    const source = this.topology.source;
    const jumps = this.topology.definition.source?.maxTimeJump === undefined ? Infinity : source.maxTimeJumpMs;
    const futureJumps = this.topology.definition.source?.maxFutureJump === undefined ? Infinity : source.maxFutureJumpMs;
    const skew = options.now === undefined ? Infinity : source.maxFutureSkewMs;
    this.task = new Task({
      topology: { ...this.topology, source: { ...source, maxFutureSkewMs: skew, maxTimeJumpMs: jumps, maxFutureJumpMs: futureJumps } },
      stores: this.stores,
      clock: this.clock,
      metrics: this.metrics,
      output: (stream, record) => {
        let list = this.streams.get(stream);
        if (!list) this.streams.set(stream, (list = []));
        list.push(record);
      },
    });
    // A driver reopened on the same state directory continues with the watermark it closed with,
    // as the embedded runner resumes from its checkpoint.
    const saved = this.meta().get(WATERMARK_KEY);
    if (saved) this.task.restore(saved);
  }

  private meta() {
    return this.stores.open<string, WatermarkSnapshot>('_meta');
  }

  /** A driver over a YAML or JSON definition text. */
  static fromYaml(text: string, options: TestDriverOptions): TestDriver {
    return new TestDriver(parsePipeline(text, '<test>', options.registry), options);
  }

  /** Pipes normalised events through the pipeline, in order, on input partition `partition`. */
  pipe(events: TributaryEvent | TributaryEvent[], partition = '0'): this {
    for (const e of Array.isArray(events) ? events : [events]) this.task.pipe(e, partition);
    return this;
  }

  /** Pipes raw records as a source would read them: mapping, normalisation and dead letters apply. */
  pipeRaw(records: unknown[], partition = '0'): this {
    records.forEach((value, i) => this.task.ingest({ ok: true, value, raw: JSON.stringify(value), source: `test:${i + 1}`, partition }));
    return this;
  }

  /** Moves the watermark to at least `time`, firing what becomes due. */
  advanceWatermark(time: number): this {
    this.task.advanceWatermark(time);
    return this;
  }

  /** Moves processing time (idle partitions release the watermark). */
  advanceTime(ms: number): this {
    this.clock.advance(ms);
    this.task.advance();
    return this;
  }

  /** End of input: watermark +∞, every timer fires. */
  end(): this {
    this.task.endOfInput();
    return this;
  }

  /** The current watermark. */
  watermark(): number {
    return this.task.watermarks.current();
  }

  /** Takes (and clears) the records written to a stream so far. */
  read<T = DerivedRecord>(stream: string): T[] {
    const list = this.streams.get(stream) ?? [];
    this.streams.set(stream, []);
    return list as T[];
  }

  /** Looks at a stream without clearing it. */
  peek<T = DerivedRecord>(stream: string): readonly T[] {
    return (this.streams.get(stream) ?? []) as T[];
  }

  /** A key's current state in a step, as `GET /state/<step>/<key>` serves it (steps with a query, e.g. windowAggregate). */
  query(step: string, key: string): unknown {
    return this.task.query(step, key);
  }

  /** A step's store, for reading state (`driver.store('dedupe', 'seen')`). */
  store<K extends StoreKey, V>(step: string, name: string): KeyValueStore<K, V> {
    return this.stores.open<K, V>(`${step}.${name}`);
  }

  /** Flushes state and the watermark (a checkpoint). */
  async checkpoint(): Promise<void> {
    this.meta().put(WATERMARK_KEY, this.task.snapshot());
    await this.task.checkpoint();
  }

  /** Flushes and closes the stores. */
  async close(): Promise<void> {
    await this.checkpoint();
    await this.stores.close();
  }
}
