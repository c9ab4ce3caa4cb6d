/**
 * Annotating an event at a dotted path (`scores.churnRisk`, `context.consent`) without changing
 * any object the event shares with its producer: the containers along the path are copied, and
 * the top-level field is set through {@link OperatorContext.annotate}, so a new field comes last
 * and an existing one keeps its place.
 */
import type { TributaryEvent } from '../lib/event/event.js';
import { parsePath } from '../lib/event/paths.js';
import type { OperatorContext } from '../lib/operator/contract.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The event with `value` at `path` (validated with `pathProblem` when the options resolved).
 *
 * @example
 * ```ts
 * annotateAt(ctx, { ...event, scores: { ltv: 3 } }, 'scores.churnRisk', 0.8);
 * // { …event, scores: { ltv: 3, churnRisk: 0.8 } }, the input's `scores` object unchanged
 * ```
 */
export function annotateAt<E extends TributaryEvent>(ctx: Pick<OperatorContext, 'annotate'>, event: E, path: string, value: unknown): E {
  const segs = parsePath(path);
  const top = segs[0] as string;
  if (segs.length === 1) return ctx.annotate(event, top, value);
  const existing = Object.hasOwn(event, top) ? event[top] : undefined;
  const root: Record<string, unknown> = isObject(existing) ? { ...existing } : {};
  let cur = root;
  for (let i = 1; i < segs.length - 1; i++) {
    const seg = segs[i] as string;
    const next = Object.hasOwn(cur, seg) ? cur[seg] : undefined;
    const copy: Record<string, unknown> = isObject(next) ? { ...next } : {};
    cur[seg] = copy;
    cur = copy;
  }
  cur[segs[segs.length - 1] as string] = value;
  return ctx.annotate(event, top, root);
}
