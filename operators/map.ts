/**
 * `map`: a declarative, pure reshaping of each event, applied in this
 * order: `copy` (to ← from), `rename` (from → to), `set` (constants), `drop`, `project` (keep
 * only the listed paths; `messageId`, `type` and `timestamp` are always kept, since every step
 * and output relies on them).
 */
import type { OperatorFunction } from 'rxjs';
import type { TributaryEvent } from '../lib/event/event.js';
import { deletePath, getPath, hasPath, pathProblem, setPath } from '../lib/event/paths.js';
import { defineStatelessOperator, type OperatorLogic } from '../lib/operator/contract.js';
import { keyedOperator, type IncomingEvent, type RxWiringOptions } from '../lib/operator/rx.js';

type Scalar = string | number | boolean | null;

/** Options of `map`. */
export interface MapOptions {
  /** Target path ← source path (the source stays). */
  copy?: Record<string, string>;
  /** Source path → target path (the source goes). */
  rename?: Record<string, string>;
  /** Path → constant. */
  set?: Record<string, Scalar>;
  /** Paths to remove. */
  drop?: string[];
  /** Keep only these paths (plus messageId, type, timestamp). */
  project?: string[];
  name?: string;
}

const ALWAYS_KEPT = ['messageId', 'type', 'timestamp'];

/**
 * @example
 * ```ts
 * new MapLogic({ rename: { 'properties.product_id': 'properties.productId' } }).process(event);
 * ```
 */
export class MapLogic implements OperatorLogic {
  constructor(private readonly config: MapOptions) {}

  process(input: TributaryEvent): TributaryEvent {
    const { copy, rename, set, drop, project } = this.config;
    let e = structuredClone(input) as TributaryEvent;
    for (const [to, from] of Object.entries(copy ?? {})) if (hasPath(e, from)) setPath(e, to, structuredClone(getPath(e, from)));
    for (const [from, to] of Object.entries(rename ?? {})) {
      if (!hasPath(e, from)) continue;
      const v = getPath(e, from);
      deletePath(e, from);
      setPath(e, to, v);
    }
    for (const [path, value] of Object.entries(set ?? {})) setPath(e, path, value);
    for (const path of drop ?? []) deletePath(e, path);
    if (project) {
      const kept: Record<string, unknown> = {};
      for (const path of [...ALWAYS_KEPT, ...project]) if (hasPath(e, path)) setPath(kept, path, getPath(e, path));
      e = kept as TributaryEvent;
    }
    return e;
  }
}

const paths = { type: 'array', items: { type: 'string', minLength: 1 } };
const pathMap = { type: 'object', additionalProperties: { type: 'string', minLength: 1 } };

export const mapOperator = defineStatelessOperator<MapOptions, MapOptions>({
  name: 'map',
  summary: 'reshape events: copy, rename, set constants, drop and project fields',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      copy: pathMap,
      rename: pathMap,
      set: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean', 'null'] } },
      drop: paths,
      project: paths,
      name: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
    },
  },
  resolve(o) {
    const all = [...Object.keys(o.copy ?? {}), ...Object.values(o.copy ?? {}), ...Object.keys(o.rename ?? {}), ...Object.values(o.rename ?? {}), ...Object.keys(o.set ?? {}), ...(o.drop ?? []), ...(o.project ?? [])];
    for (const p of all) {
      const problem = pathProblem(p);
      if (problem) throw new Error(`"${p}": ${problem}`);
    }
    for (const p of ALWAYS_KEPT) if ((o.drop ?? []).includes(p)) throw new Error(`drop: ${p} cannot be dropped (every step and output needs it)`);
    return o;
  },
  create: (c) => new MapLogic(c),
});

/**
 * `map` as an RxJS operator.
 *
 * @example
 * ```ts
 * events$.pipe(mapEvents({ set: { 'context.source': 'import' }, drop: ['properties.debug'] }));
 * ```
 */
export function mapEvents(options: MapOptions & RxWiringOptions): OperatorFunction<IncomingEvent, TributaryEvent> {
  return keyedOperator(mapOperator, options);
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    map: MapOptions;
  }
}
