/**
 * Reading the JSON Schema file of `validate: { jsonSchemaFile }`. The path is relative to the
 * working directory and must stay inside it (no absolute path, no `..` out of it, no symbolic
 * link out of it); the file is at most 1 MiB. Errors name the path and the fix, never the
 * file's content.
 */
import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, normalize, relative, sep } from 'node:path';

/** The largest schema file read (a JSON Schema is a few KB). */
export const MAX_SCHEMA_FILE_BYTES = 1 << 20;

const quoted = (path: string) => JSON.stringify(path.length > 80 ? `${path.slice(0, 80)}…` : path);
const outside = (rel: string) => rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);

/** Why `path` may not be read as a schema file (undefined when it may): decided on the text alone. */
export function schemaPathProblem(path: string): string | undefined {
  if (isAbsolute(path)) return `jsonSchemaFile ${quoted(path)} is an absolute path; give a path relative to the working directory (e.g. schemas/event.json), or put the schema inline with jsonSchema`;
  if (path.includes('\0') || outside(normalize(path))) return `jsonSchemaFile ${quoted(path)} leaves the working directory; give a path inside it (e.g. schemas/event.json), or put the schema inline with jsonSchema`;
  return undefined;
}

function readBounded(fd: number): Buffer | undefined {
  const buffer = Buffer.allocUnsafe(MAX_SCHEMA_FILE_BYTES + 1);
  let length = 0;
  for (;;) {
    const n = readSync(fd, buffer, length, buffer.length - length, null);
    if (n === 0) return buffer.subarray(0, length);
    length += n;
    if (length > MAX_SCHEMA_FILE_BYTES) return undefined;
  }
}

/**
 * The JSON Schema in `path` (relative to `cwd`), or an Error whose message is one line: what is
 * wrong and the fix.
 *
 * @example
 * ```ts
 * readSchemaFile('schemas/purchase.json'); // { type: 'object', … }
 * readSchemaFile('/etc/passwd');          // throws: … is an absolute path; give a path relative to the working directory …
 * ```
 */
export function readSchemaFile(path: string, cwd = process.cwd()): Record<string, unknown> {
  const problem = schemaPathProblem(path);
  if (problem) throw new Error(problem);
  let real: string;
  try {
    real = realpathSync(`${cwd}${sep}${path}`);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`jsonSchemaFile ${quoted(path)} cannot be read (${code === 'ENOENT' ? 'no such file' : code ?? 'error'}); the path is relative to the working directory ${cwd}`, { cause: e });
  }
  if (outside(relative(realpathSync(cwd), real))) throw new Error(`jsonSchemaFile ${quoted(path)} is a link out of the working directory; give the path of a file inside it`);
  let bytes: Buffer | undefined;
  const fd = openSync(real, 'r');
  try {
    if (!fstatSync(fd).isFile()) throw new Error(`jsonSchemaFile ${quoted(path)} is not a regular file; give the path of a JSON Schema file`);
    bytes = readBounded(fd);
  } finally {
    closeSync(fd);
  }
  if (bytes === undefined) throw new Error(`jsonSchemaFile ${quoted(path)} is larger than ${MAX_SCHEMA_FILE_BYTES / 1024} KiB, too large for a JSON Schema; give the schema file itself`);
  let schema: unknown;
  try {
    schema = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new Error(`jsonSchemaFile ${quoted(path)} is not valid JSON; fix the file (a JSON Schema object)`, { cause: e });
  }
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new Error(`jsonSchemaFile ${quoted(path)} does not hold a JSON object; a JSON Schema is an object, e.g. {"type": "object"}`);
  return schema as Record<string, unknown>;
}
