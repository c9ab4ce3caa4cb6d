/**
 * The typed TypeScript builder: produces exactly the structure a YAML definition parses to.
 * Operator option types come from {@link StepOptionsMap}, which each operator module
 * augments (`declare module`), so `lib` stays free of `operators` imports.
 */
import type { PipelineDefinition, SourceDefinition, StepDefinition, StreamTarget } from './definition.js';

/**
 * Step options by operator key; operators add themselves:
 * `declare module '../lib/pipeline/builder.js' { interface StepOptionsMap { dedupe: DedupeOptions } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface StepOptionsMap {}

/**
 * Builds a pipeline definition with types.
 *
 * @example
 * ```ts
 * import { pipeline } from 'tributary-streams';
 * import 'tributary-streams/operators';
 * const def = pipeline('dedupe-clicks')
 *   .source({ topic: 'behavior-events', key: ['anonymousId', 'userId'], allowedLateness: '1m' })
 *   .step('dedupe', { key: 'messageId', ttl: '24h', output: 'duplicates' })
 *   .sink({ topic: 'behavior-events-deduped' })
 *   .build();
 * ```
 */
export class PipelineBuilder {
  private readonly def: PipelineDefinition;

  constructor(name: string) {
    this.def = { name, source: {}, steps: [] };
  }

  description(text: string): this {
    this.def.description = text;
    return this;
  }

  source(source: SourceDefinition): this {
    this.def.source = structuredClone(source);
    return this;
  }

  /** Appends a step: an operator key and its options. */
  step<K extends keyof StepOptionsMap & string>(operator: K, options: StepOptionsMap[K]): this {
    this.def.steps.push({ [operator]: structuredClone(options) as unknown as Record<string, unknown> } as StepDefinition);
    return this;
  }

  sink(target: StreamTarget): this {
    this.def.sink = { ...target };
    return this;
  }

  output(stream: string, target: StreamTarget): this {
    this.def.outputs = { ...this.def.outputs, [stream]: { ...target } };
    return this;
  }

  guarantee(g: 'at-least-once' | 'exactly-once'): this {
    this.def.guarantee = g;
    return this;
  }

  /** A record a step throws on: `dead-letter` (default) or `fail` (stop the run). */
  onProcessingError(policy: 'dead-letter' | 'fail'): this {
    this.def.onProcessingError = policy;
    return this;
  }

  /** The definition (validate it with `validatePipeline` before compiling). */
  build(): PipelineDefinition {
    return structuredClone(this.def);
  }
}

/** Starts a pipeline definition. */
export function pipeline(name: string): PipelineBuilder {
  return new PipelineBuilder(name);
}
