/**
 * The canonical event and how raw records become one: types, field mapping, dotted paths,
 * timestamps, normalisation and partitioning keys.
 *
 * @example
 * ```ts
 * import { normalizeEvent, resolveKey } from './lib/event/index.js';
 * const r = normalizeEvent({ type: 'track', event: 'view', timestamp: 1569888000000, anonymousId: 'a1' }, undefined);
 * if (r.ok) resolveKey(r.event, ['anonymousId', 'userId']); // 'a1'
 * ```
 */
export * from './event.js';
export * from './mapping.js';
export * from './paths.js';
export * from './timestamp.js';
export * from './normalize.js';
export { validateMapping } from './apply-mapping.js';
export { canonicalJson, contentMessageId } from './content-id.js';
export * from './key.js';
