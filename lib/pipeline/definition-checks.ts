/**
 * Checks of a definition that its JSON Schema cannot express, decided before anything runs:
 * field paths that can never name a field (an empty segment, `__proto__`, `constructor`,
 * `prototype`), numbers the runtime cannot hold exactly (beyond 2^53, or infinite), a record
 * size limit too large to be one, a commit interval longer than a timer can wait, a metrics
 * host that is neither an IP address nor a host name, and names too long for Kafka topics. Pure: each finding says where it is and the fix.
 */
import { isIP } from 'node:net';
import { validateMapping } from '../event/apply-mapping.js';
import { pathProblem } from '../event/paths.js';
import { parseDuration } from '../time/duration.js';
import type { PipelineDefinition } from './definition.js';

type PathPart = string | number;

/** One problem: the value at `at` (or the key `key` inside it), and what to do. */
export interface Finding {
  at: PathPart[];
  key?: string;
  message: string;
}

/** The largest `source.maxRecordBytes`: a record is held whole in memory, and V8 strings stop at about 512 MiB. */
export const MAX_RECORD_BYTES_LIMIT = 256 * 2 ** 20;

const PATH_FIX = 'write a dotted path of field names, e.g. properties.productId';

function pathFinding(at: PathPart[], path: unknown, key?: string): Finding[] {
  if (typeof path !== 'string') return [];
  const problem = pathProblem(path);
  if (problem === undefined) return [];
  return [{ at, ...(key === undefined ? {} : { key }), message: `${JSON.stringify(path)} is not a usable field path (${problem}); ${PATH_FIX}` }];
}

/** A path option written as one path or a list of paths. */
function pathsAt(at: PathPart[], value: unknown): Finding[] {
  if (Array.isArray(value)) return value.flatMap((p, i) => pathFinding([...at, i], p));
  return pathFinding(at, value);
}

function mappingFindings(mapping: unknown): Finding[] {
  if (typeof mapping !== 'object' || mapping === null) return [];
  const m = mapping as Record<string, Record<string, unknown> | undefined>;
  const at = ['source', 'mapping'];
  const out: Finding[] = [];
  for (const section of ['fields', 'values', 'defaults', 'types'] as const) {
    for (const [canonical, value] of Object.entries(m[section] ?? {})) {
      out.push(...pathFinding([...at, section], canonical, canonical));
      if (section === 'fields') out.push(...pathFinding([...at, section, canonical], value));
    }
  }
  // Anything else the normalizer would refuse (the same rules it applies when a run starts).
  if (out.length === 0) {
    for (const problem of validateMapping(mapping as never)) out.push({ at, message: problem });
  }
  return out;
}

/** A host name: dot-separated labels of letters, digits and inner hyphens. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Whether `host` is an IP address or a host name (what the operations endpoint may bind). */
export const isHostOrIp = (host: string): boolean => isIP(host) !== 0 || HOST_NAME.test(host);

/**
 * The longest pipeline, step or stream name: Kafka topics are named from them
 * (`<name>-<step>.<store>-changelog`, `<name>-<stream>`), and a topic name stops at 249 characters.
 */
export const MAX_NAME_LENGTH = 100;

function nameLength(at: PathPart[], name: unknown): Finding[] {
  if (typeof name !== 'string' || name.length <= MAX_NAME_LENGTH) return [];
  return [{ at, message: `a name of ${name.length} characters is too long (at most ${MAX_NAME_LENGTH}: Kafka topics are named from it and stop at 249 characters); use a shorter one` }];
}

/** The longest wait of a Node.js timer (2^31 − 1 ms, about 24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function commitIntervalTooLong(value: string): boolean {
  try {
    return parseDuration(value) > MAX_TIMER_MS;
  } catch {
    return false; // not a duration: the schema says so
  }
}

/** Every number in `value` that is infinite, or an integer beyond 2^53 (no longer exact). */
function inexactNumbers(value: unknown, at: PathPart[], out: Finding[]): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) out.push({ at, message: `${value} is not a finite number; write a number of at most 15 digits` });
    else if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
      out.push({ at, message: `${value} is too large to be exact (at most ${Number.MAX_SAFE_INTEGER}); use a smaller number, or quote it if it is an identifier` });
    }
    return;
  }
  if (Array.isArray(value)) value.forEach((v, i) => inexactNumbers(v, [...at, i], out));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) inexactNumbers(v, [...at, k], out);
  }
}

/**
 * What is wrong in a definition that passed its schema, beyond the schema.
 *
 * @example
 * ```ts
 * definitionFindings({ name: 'p', source: { key: '__proto__.id' }, steps: [] });
 * // [{ at: ['source', 'key'], message: '"__proto__.id" is not a usable field path (segment "__proto__" is not allowed); …' }]
 * ```
 */
export function definitionFindings(def: PipelineDefinition): Finding[] {
  const out: Finding[] = [];
  inexactNumbers(def, [], out);
  const source = def.source ?? {};
  out.push(...pathsAt(['source', 'key'], source.key));
  out.push(...pathFinding(['source', 'timestamp'], source.timestamp));
  out.push(...mappingFindings(source.mapping));
  const max = source.maxRecordBytes;
  if (typeof max === 'number' && Number.isSafeInteger(max) && max > MAX_RECORD_BYTES_LIMIT) {
    out.push({ at: ['source', 'maxRecordBytes'], message: `${max} bytes is more than a record can be (at most ${MAX_RECORD_BYTES_LIMIT}, 256 MiB); use a smaller limit` });
  }
  out.push(...nameLength(['name'], def.name));
  (def.steps ?? []).forEach((step, i) => {
    const op = Object.keys(step)[0];
    const options = op === undefined ? undefined : (step[op] as Record<string, unknown> | undefined);
    for (const k of ['name', 'output']) if (op !== undefined && options && typeof options[k] === 'string') out.push(...nameLength(['steps', i, op, k], options[k]));
  });
  const host = def.metrics?.host;
  if (typeof host === 'string' && !isHostOrIp(host)) {
    out.push({ at: ['metrics', 'host'], message: `${JSON.stringify(host)} is not an IP address or a host name; use an address of this machine, e.g. 127.0.0.1, 0.0.0.0 or localhost` });
  }
  const commit = def.kafka?.commitInterval;
  if (typeof commit === 'string' && commitIntervalTooLong(commit)) {
    out.push({ at: ['kafka', 'commitInterval'], message: `${JSON.stringify(commit)} is longer than the longest timer (24d), which Node.js would cut to 1 ms; use at most 24d (the default is 100ms)` });
  }
  (def.steps ?? []).forEach((step, i) => {
    const op = Object.keys(step)[0];
    const options = op === undefined ? undefined : step[op];
    if (op !== undefined && typeof options === 'object' && options !== null && 'key' in options) {
      out.push(...pathsAt(['steps', i, op, 'key'], options.key));
    }
  });
  return out;
}
