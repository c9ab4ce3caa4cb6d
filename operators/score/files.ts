/**
 * The files a `score` step reads when the pipeline loads: a JSON coefficients file
 * (`coefficientsFile`) and a scoring module (`module`). Same rules as validate's
 * `jsonSchemaFile`: the path is relative to the working directory and must stay inside it (no
 * absolute path, no `..` out of it, no symbolic link out of it); the file is a regular file of
 * at most 1 MiB. Errors are one line naming the option, the path and the fix, never the file's
 * content.
 */
import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, normalize, relative, sep } from 'node:path';

/** The largest file read (coefficients are a few KB, a scoring module a few dozen). */
export const MAX_SCORE_FILE_BYTES = 1 << 20;

const quoted = (path: string) => JSON.stringify(path.length > 80 ? `${path.slice(0, 80)}…` : path);
const outside = (rel: string) => rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);

/**
 * The real path of `path` (relative to `cwd` and inside it), checked to be a regular file of at
 * most 1 MiB; throws an Error whose message names `option` and the fix.
 */
export function guardedFile(option: string, path: string, cwd: string, example: string): string {
  const at = `${option} ${quoted(path)}`;
  if (isAbsolute(path)) throw new Error(`${at} is an absolute path; give a path relative to the working directory (e.g. ${example})`);
  if (path.includes('\0') || outside(normalize(path))) throw new Error(`${at} leaves the working directory; give a path inside it (e.g. ${example})`);
  let real: string;
  try {
    real = realpathSync(`${cwd}${sep}${path}`);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${at} cannot be read (${code === 'ENOENT' ? 'no such file' : code ?? 'error'}); the path is relative to the working directory ${cwd}`, { cause: e });
  }
  if (outside(relative(realpathSync(cwd), real))) throw new Error(`${at} is a link out of the working directory; give the path of a file inside it`);
  const st = statSync(real);
  if (!st.isFile()) throw new Error(`${at} is not a regular file; give the path of a file`);
  if (st.size > MAX_SCORE_FILE_BYTES) throw new Error(`${at} is larger than ${MAX_SCORE_FILE_BYTES / 1024} KiB; give a smaller file`);
  return real;
}

/** The JSON object in `path` (see {@link guardedFile}). */
export function readJsonObject(option: string, path: string, cwd: string, example: string): Record<string, unknown> {
  const real = guardedFile(option, path, cwd, example);
  const fd = openSync(real, 'r');
  let bytes: Buffer;
  try {
    const buffer = Buffer.allocUnsafe(MAX_SCORE_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0 || (length += n) > MAX_SCORE_FILE_BYTES) break;
    }
    if (length > MAX_SCORE_FILE_BYTES) throw new Error(`${option} ${quoted(path)} is larger than ${MAX_SCORE_FILE_BYTES / 1024} KiB; give a smaller file`);
    bytes = buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new Error(`${option} ${quoted(path)} is not valid JSON; fix the file`, { cause: e });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${option} ${quoted(path)} does not hold a JSON object; write e.g. {"intercept": -1.5, "coefficients": {"features.frequency": 0.4}}`);
  return value as Record<string, unknown>;
}

/** A user's scoring function: the event in, a finite number out. */
export type ScoreFunction = (event: Record<string, unknown>) => unknown;

/**
 * Loads the scoring module at `path` once (Node.js caches it) and returns its `score` export.
 * A CommonJS module (`.cjs`, or `.js` outside an ES-module package) loads on every Node.js;
 * an ES module (`.mjs`, no top-level await) on Node.js versions whose `require` loads ES modules
 * (20.19 and 22.12 onwards).
 * The module runs in-process: it is trusted code, like the pipeline definition itself.
 */
export function loadScoreModule(path: string, cwd: string): ScoreFunction {
  const real = guardedFile('module', path, cwd, 'models/churn.cjs');
  let exported: unknown;
  try {
    exported = createRequire(real)(real);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_REQUIRE_ASYNC_MODULE') throw new Error(`module ${quoted(path)} uses top-level await, so it cannot be loaded synchronously when the pipeline loads; compute what it awaits at first use instead`, { cause: e });
    if (err.code === 'ERR_REQUIRE_ESM') throw new Error(`module ${quoted(path)} is an ES module, which this Node.js (${process.version}) cannot load synchronously; write it as CommonJS (a .cjs file: module.exports.score = (event) => …), or run Node.js 20.19, 22.12 or later`, { cause: e });
    throw new Error(`module ${quoted(path)} failed to load: ${firstLine(err)}`, { cause: e });
  }
  const score = (exported as { score?: unknown } | null)?.score;
  if (typeof score !== 'function') throw new Error(`module ${quoted(path)} does not export a function score; export one: module.exports.score = (event) => number`);
  return score as ScoreFunction;
}

/** The first line of an error's message (or of what was thrown), at most 200 characters. */
export function firstLine(e: unknown): string {
  let text: string;
  try {
    text = e instanceof Error ? String(e.message) : String(e);
  } catch {
    text = 'a value that is not an Error';
  }
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
