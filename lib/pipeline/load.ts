/**
 * Loading a pipeline definition: YAML or JSON text → validated {@link PipelineDefinition},
 * or a {@link DefinitionError} naming file:line:column, the key and the fix for every issue.
 */
import { statSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { LineCounter, parseDocument, isMap, isPair, isScalar, isSeq, visit, type Document } from 'yaml';
import type { OperatorRegistry } from '../operator/contract.js';
import { DURATION_PATTERN, durationProblem } from '../time/duration.js';
import { definitionFindings } from './definition-checks.js';
import { BUILTIN_STREAMS, type PipelineDefinition } from './definition.js';
import { DefinitionError, didYouMean, type DefinitionIssue } from './errors.js';
import { EVENTS_HINT, MAX_DEFINITION_BYTES, readDefinitionText, tooLarge } from './read-definition.js';
import { buildPipelineSchema } from './schema.js';

type PathPart = string | number;
type Ranged = { range?: [number, number, number] | null } | null | undefined;

/** Text positions for paths in a parsed document. */
class Positions {
  constructor(
    private readonly file: string,
    private readonly doc: Document | undefined,
    private readonly lines: LineCounter,
  ) {}

  /** Position of the value at `path`, or of the key `key` inside it when given (unknown keys). */
  at(path: PathPart[], key?: string): { line: number; column: number } {
    let node: unknown = this.doc?.contents;
    let best = node as Ranged;
    for (const part of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(part));
        if (!pair) break;
        node = pair.value;
        best = (pair.value ?? pair.key) as Ranged;
      } else if (isSeq(node) && typeof part === 'number') {
        node = node.items[part];
        if (!node) break;
        best = node as Ranged;
      } else break;
    }
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key);
      if (pair && isScalar(pair.key)) best = pair.key as Ranged;
    }
    const offset = best?.range?.[0] ?? 0;
    const pos = this.lines.linePos(offset);
    return { line: pos.line, column: pos.col };
  }

  issue(path: PathPart[], message: string, key?: string): DefinitionIssue {
    const full = key === undefined ? path : [...path, key];
    return { file: this.file, ...this.at(path, key), path: formatPath(full), message };
  }
}

/** `['steps', 2, 'sessionize', 'gap']` → `steps[2].sessionize.gap`. */
export function formatPath(path: PathPart[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

function parsePointer(pointer: string): PathPart[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function valueAt(root: unknown, path: PathPart[]): unknown {
  let v = root;
  for (const p of path) v = v == null ? undefined : (v as Record<PathPart, unknown>)[p];
  return v;
}

/** A value quoted for a message, cut short so an issue stays one readable line. */
const show = (v: unknown): string => {
  const text = typeof v === 'string' ? `"${v}"` : typeof v === 'number' ? String(v) : String(JSON.stringify(v));
  return text.length > 60 ? `${text.slice(0, 40)}… (${text.length} characters)` : text;
};

/** Where a mapping of `doc` repeats a key (at the repeated key), in one pass over each mapping. */
function duplicateKeys(doc: Document): Array<{ at: number; message: string }> {
  const found: Array<{ at: number; message: string }> = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : String(pair.key);
        if (seen.has(key)) found.push({ at: (pair.key as { range?: [number] } | null)?.range?.[0] ?? 0, message: 'Map keys must be unique' });
        seen.add(key);
      }
    },
  });
  return found;
}

/** Turns Ajv errors into issues with a fix each; one issue per place. */
function ajvIssues(errors: ErrorObject[], root: unknown, base: PathPart[], pos: Positions): DefinitionIssue[] {
  const oneOfPaths = new Set(errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath));
  const out = new Map<string, DefinitionIssue>();
  let more = 0;
  for (const e of errors) {
    // Locating an issue costs a walk of its mapping: 60,000 unknown keys took a minute and
    // printed 60,000 lines. The first ones are shown, the rest counted.
    if (out.size >= MAX_SYNTAX_ISSUES) {
      more++;
      continue;
    }
    const path = [...base, ...parsePointer(e.instancePath)];
    const value = valueAt(root, path);
    let issue: DefinitionIssue;
    if (e.keyword === 'additionalProperties') {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const known = Object.keys(((e.parentSchema ?? {}) as { properties?: object }).properties ?? {});
      const hint = didYouMean(key, known);
      issue = pos.issue(path, `unknown key${hint ? ` (did you mean ${hint}?)` : ''}; allowed: ${known.join(', ')}`, key);
    } else if (e.keyword === 'required') {
      const key = String((e.params as { missingProperty: string }).missingProperty);
      issue = pos.issue(path, `missing required key "${key}"`);
      issue.path = formatPath([...path, key]);
    } else if (oneOfPaths.has(e.instancePath) && e.keyword !== 'oneOf') {
      continue;
    } else if (e.keyword === 'oneOf') {
      issue = pos.issue(path, `${show(value)} must be a string or a list of strings`);
    } else if (e.keyword === 'pattern') {
      const pattern = (e.params as { pattern: string }).pattern;
      issue = pattern === DURATION_PATTERN
        ? pos.issue(path, `${show(value)} ${durationProblem(String(value))}`)
        : pos.issue(path, `${show(value)} is not a valid name (use lowercase letters, digits and -, starting with a letter)`);
    } else if (e.keyword === 'enum') {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      const hint = typeof value === 'string' ? didYouMean(value, allowed.map(String)) : undefined;
      issue = pos.issue(path, `${show(value)} is not one of ${allowed.join(', ')}${hint ? ` (did you mean ${hint}?)` : ''}`);
    } else if (e.keyword === 'type') {
      issue = pos.issue(path, `${show(value)} must be ${(e.params as { type: string }).type.replace(',', ' or ')}`);
    } else {
      issue = pos.issue(path, `${show(value)} ${e.message ?? 'is invalid'}`);
    }
    const k = `${issue.path}|${issue.message}`;
    if (!out.has(k)) out.set(k, issue);
  }
  const shown = [...out.values()];
  const last = shown.at(-1);
  if (more > 0 && last !== undefined) shown.push({ ...last, message: `… and ${more} more problems after this one (fix the first ones first)` });
  return shown;
}

/** What a step name defaults to: the operator, suffixed with its index when repeated. */
export function stepNames(def: PipelineDefinition): string[] {
  const ops = def.steps.map((s) => Object.keys(s)[0] as string);
  return def.steps.map((s, i) => {
    const op = ops[i] as string;
    const explicit = (s[op] as { name?: unknown } | undefined)?.name;
    if (typeof explicit === 'string') return explicit;
    return ops.filter((o) => o === op).length > 1 ? `${op}-${i}` : op;
  });
}

/**
 * Parses and validates a definition given as text. JSON is read by the same YAML parser
 * (JSON is YAML 1.2), so both get line and column positions.
 *
 * @example
 * ```ts
 * const def = parsePipeline(text, 'pipeline.yaml', defaultRegistry);
 * ```
 */
export function parsePipeline(text: string, file: string, registry: OperatorRegistry): PipelineDefinition {
  const notADefinition = eventsFileHint(text);
  if (notADefinition) throw new DefinitionError([{ file, line: 1, column: 1, path: '', message: notADefinition }]);
  const lines = new LineCounter();
  // Duplicate keys are found here in one pass (the parser's own check compares every key with
  // every other: 60,000 keys took half a minute).
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false });
  const pos = new Positions(file, doc, lines);
  // A tag the parser does not know (`!!js/function`, `!custom`) would leave its value a string
  // that means something else: refused, like a syntax error.
  const tags = doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED').map((w) => ({
    at: w.pos[0],
    message: `unsupported tag ${/^Unresolved tag: (\S+)/.exec(w.message)?.[1] ?? ''}: a definition takes plain YAML values; remove the tag`,
  }));
  const syntax = doc.errors.map((e) => ({ at: e.pos[0], message: syntaxMessage(e.message) }));
  // A parser that ran out of stack reports it at many places (where depends on the stack): once.
  const deep = syntax.findIndex((e) => e.message === TOO_DEEP);
  const errors = [...(deep < 0 ? syntax : [syntax[deep]!]), ...tags, ...duplicateKeys(doc)].sort((a, b) => a.at - b.at);
  if (errors.length > 0) {
    const shown = errors.slice(0, MAX_SYNTAX_ISSUES).map((e) => {
      const p = lines.linePos(e.at);
      return { file, line: p.line, column: p.col, path: '', message: `${e.message} (fix the YAML/JSON syntax here)` };
    });
    const more = errors.length - shown.length;
    const last = shown.at(-1) as DefinitionIssue;
    if (more > 0) shown.push({ ...last, message: `… and ${more} more syntax errors after this one (fix the first ones first)` });
    throw new DefinitionError(shown);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (e) {
    // An alias without its anchor, or aliases that expand too much (a "billion laughs" file).
    const message = (e as Error).message;
    const fix = /alias count/i.test(message) ? 'aliases expand to too much data (more than 100 uses): write the values out, or use fewer aliases' : `${message}: define the anchor (&name) before using it (*name), or fix the alias's name`;
    throw new DefinitionError([{ file, line: 1, column: 1, path: '', message: fix }]);
  }
  return validatePipeline(value, registry, pos);
}

/** A parser error's first line; the parser's own stack overflow (thousands of nested levels) said as such. */
function syntaxMessage(message: string): string {
  if (/Maximum call stack size exceeded/.test(message)) return TOO_DEEP;
  return message.split('\n')[0] as string;
}

const TOO_DEEP = 'nested too deep for the parser (thousands of levels): a definition is a few levels deep; remove the extra nesting';

/** Syntax errors reported before the rest are summed up in one line. */
const MAX_SYNTAX_ISSUES = 20;
/**
 * Why `text` is not a pipeline definition at a glance (undefined when it may be one): NDJSON
 * (two lines that are each a JSON object) or more than 1 MiB. Decided before parsing, so an
 * events file given as the pipeline is refused at once instead of parsed into errors per line.
 */
export function eventsFileHint(text: string): string | undefined {
  const bytes = text.length > MAX_DEFINITION_BYTES / 4 ? Buffer.byteLength(text) : text.length;
  if (bytes > MAX_DEFINITION_BYTES) return tooLarge(bytes);
  const lines = text.split('\n', 50).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const objectLine = (l: string | undefined) => {
    if (l === undefined || !l.startsWith('{') || !l.endsWith('}')) return false;
    try {
      return typeof JSON.parse(l) === 'object';
    } catch {
      return false;
    }
  };
  if (lines.length >= 2 && objectLine(lines[0]) && objectLine(lines[1])) return `one JSON object per line (NDJSON) is not a pipeline definition; ${EVENTS_HINT}`;
  return undefined;
}

/**
 * Reads, parses and validates a definition file (`.yaml`, `.yml` or `.json`).
 */
export function loadPipelineFile(path: string, registry: OperatorRegistry): PipelineDefinition {
  const refuse = (message: string) => new DefinitionError([{ file: path, line: 1, column: 1, path: '', message }]);
  let read: ReturnType<typeof readDefinitionText>;
  try {
    const size = statSync(path).size;
    if (size > MAX_DEFINITION_BYTES) throw refuse(tooLarge(size));
    read = readDefinitionText(path);
  } catch (e) {
    if (e instanceof DefinitionError) throw e;
    throw refuse(`cannot read the file: ${(e as Error).message}`);
  }
  if ('refused' in read) throw refuse(read.refused);
  return parsePipeline(read.text, path, registry);
}

/**
 * The compiled validators of a registry, made once (compiling them took ~60 ms per definition):
 * the top level, whose steps are only "objects" (each step is checked on its own below), and each
 * operator's options, compiled the first time the operator is used (so an operator added to the
 * registry later is known).
 */
const validators = new WeakMap<OperatorRegistry, { validateTop: ValidateFunction; validateOptions: (op: { optionsSchema: unknown }) => ValidateFunction }>();

function validatorsOf(registry: OperatorRegistry) {
  const cached = validators.get(registry);
  if (cached) return cached;
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: false });
  const topLevel = structuredClone(buildPipelineSchema(registry)) as { properties: { steps: unknown } };
  topLevel.properties.steps = { type: 'array', items: { type: 'object' } };
  const byOperator = new WeakMap<object, ValidateFunction>();
  const entry = {
    validateTop: ajv.compile(topLevel),
    validateOptions: (op: { optionsSchema: unknown }) => {
      let v = byOperator.get(op);
      if (!v) byOperator.set(op, (v = ajv.compile(op.optionsSchema as object)));
      return v;
    },
  };
  validators.set(registry, entry);
  return entry;
}

/**
 * Validates an already-parsed definition object (e.g. from the TypeScript builder).
 * Positions are then reported as 1:1 of `file`.
 */
export function validatePipeline(value: unknown, registry: OperatorRegistry, pos: Positions | string = '<definition>'): PipelineDefinition {
  const positions = typeof pos === 'string' ? new Positions(pos, undefined, new LineCounter()) : pos;
  const { validateTop, validateOptions } = validatorsOf(registry);
  const issues: DefinitionIssue[] = [];
  if (!validateTop(value)) issues.push(...ajvIssues(validateTop.errors ?? [], value, [], positions));
  if (issues.length > 0 || typeof value !== 'object' || value === null) {
    if (issues.length === 0) issues.push(positions.issue([], 'a pipeline definition must be a mapping with name, source and steps'));
    throw new DefinitionError(issues);
  }
  const def = value as PipelineDefinition;

  // Steps one by one: precise messages instead of a oneOf over every operator.
  const produced = new Map<string, string>();
  def.steps.forEach((step, i) => {
    const keys = Object.keys(step);
    if (keys.length !== 1) {
      issues.push(positions.issue(['steps', i], `a step has exactly one operator key (one of ${[...registry.keys()].join(', ')}), found ${keys.length ? keys.join(', ') : 'none'}`));
      return;
    }
    const op = keys[0] as string;
    const operator = registry.get(op);
    if (!operator) {
      const hint = didYouMean(op, registry.keys());
      issues.push(positions.issue(['steps', i], `unknown operator${hint ? ` (did you mean ${hint}?)` : ''}; known: ${[...registry.keys()].join(', ')}`, op));
      return;
    }
    const options = step[op] ?? {};
    const validate = validateOptions(operator);
    if (!validate(options)) {
      issues.push(...ajvIssues(validate.errors ?? [], def, ['steps', i, op], positions));
      return;
    }
    try {
      const resolved = operator.resolve(options as never);
      for (const out of operator.outputs(resolved)) {
        if ((BUILTIN_STREAMS as readonly string[]).includes(out.stream)) {
          issues.push(positions.issue(['steps', i, op, 'output'], `"${out.stream}" is a built-in stream; name the output something else (e.g. ${op}-${out.kind})`));
        } else if (produced.has(out.stream)) {
          issues.push(positions.issue(['steps', i, op, 'output'], `stream "${out.stream}" is already written by ${produced.get(out.stream)}; give each output its own name`));
        } else produced.set(out.stream, `steps[${i}].${op}`);
      }
    } catch (e) {
      issues.push(positions.issue(['steps', i, op], (e as Error).message));
    }
  });

  for (const f of definitionFindings(def)) issues.push(positions.issue(f.at, f.message, f.key));
  const names = issues.length === 0 ? stepNames(def) : [];
  names.forEach((n, i) => {
    const j = names.indexOf(n);
    if (j !== i) issues.push(positions.issue(['steps', i], `step name "${n}" is used twice (steps[${j}] too); set a distinct name: in the step's options`));
  });
  for (const stream of Object.keys(def.outputs ?? {})) {
    if (!produced.has(stream) && !(BUILTIN_STREAMS as readonly string[]).includes(stream)) {
      const known = [...produced.keys(), ...BUILTIN_STREAMS];
      const hint = didYouMean(stream, known);
      issues.push(positions.issue(['outputs'], `no step writes a stream "${stream}"${hint ? ` (did you mean ${hint}?)` : ''}; streams: ${known.join(', ')}`, stream));
    }
  }
  if (issues.length > 0) throw new DefinitionError(issues);
  return def;
}
