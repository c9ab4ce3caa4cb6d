/**
 * `tributary inspect <state-dir>`: what a state directory holds, read-only: each LMDB
 * environment (an embedded run's state dir, or a Kafka run's `<state-dir>/<app>/<task>`), its
 * stores with entry counts and bytes, and its metadata (the embedded checkpoint: input position,
 * watermark; a Kafka task's changelog offsets and input offset). `--store s --key k` prints one
 * decoded value; `--dump` every entry as NDJSON. Safe beside a running pipeline (LMDB readers do
 * not block the writer).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import { LmdbStoreFactory } from '../state/engines/lmdb/env.js';

/**
 * Whether `dir` holds an environment: a `data.mdb` that is not an empty file (LMDB would write a
 * new environment into an empty one, and inspecting is read-only; what is not a regular file is
 * refused when it is opened).
 */
function holdsEnvironment(dir: string): boolean {
  const file = join(dir, 'data.mdb');
  if (!existsSync(file)) return false;
  const st = statSync(file);
  return !(st.isFile() && st.size === 0);
}

/** The LMDB environments under `dir`: itself, or its sub-directories two levels down (Kafka: `<app>/<task>`). */
export function findEnvironments(dir: string): string[] {
  if (holdsEnvironment(dir)) return [dir];
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 2) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const sub = join(d, e.name);
      if (holdsEnvironment(sub)) out.push(sub);
      else walk(sub, depth + 1);
    }
  };
  walk(dir, 1);
  return out.sort();
}

/** JSON for values LMDB gives back (Map, Set, BigInt, Date, buffers included). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Map) return Object.fromEntries(v);
    if (v instanceof Set) return [...v];
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    return v;
  });
}

/** One environment's report, as lines. */
export async function describeEnvironment(path: string, root: string): Promise<string[]> {
  const env = new LmdbStoreFactory({ path });
  try {
    const lines = [`${relative(root, path) || '.'}: ${Math.round(statSync(join(path, 'data.mdb')).size / 1024)} KiB`];
    for (const name of env.storeNames()) {
      const store = env.open(name);
      lines.push(`  store ${name}: ${store.count()} entries, ${Math.round((store.bytes?.() ?? 0) / 1024)} KiB`);
      // The runtime's own stores (`_meta`: the embedded checkpoint; `_task.s<N>`: a Kafka task's
      // watermark and upstream reports) are small: shown whole.
      if (name.startsWith('_')) for (const { key, value } of store.range()) lines.push(`    ${toJson(key)}: ${toJson(value)}`);
    }
    for (const key of env.metaKeys()) lines.push(`  meta ${key}: ${toJson(env.getMeta(key))}`);
    return lines;
  } finally {
    await env.close();
  }
}

interface InspectOptions {
  store?: string;
  key?: string;
  keyJson?: string;
  dump?: boolean;
}

/** Adds `inspect` to the program. */
export function registerInspect(program: Command, io: { stdout: (t: string) => void; stderr: (t: string) => void }, fail: (code: number) => never): void {
  program
    .command('inspect')
    .description('show what a state directory holds: stores with entries and sizes, checkpoint metadata (watermark, offsets); one value with --store/--key, every entry with --dump')
    .argument('<state-dir>', 'an embedded run\'s --state-dir, a Kafka run\'s --state-dir (all its tasks), or one task\'s directory')
    .option('--store <name>', 'one store (e.g. dedupe.seen)')
    .option('--key <key>', 'with --store: print the decoded value of this key (a string key)')
    .option('--key-json <json>', 'with --store: a key given as JSON (a number, or an array for a composite key)')
    .option('--dump', 'print every entry (of --store, or of every store) as NDJSON: {env, store, key, value, expiresAt}')
    .addHelpText('after', '\nExample:\n  tributary inspect state/cart-abandonment --store sessionize.sessions --key p-21b2…\n  tributary inspect out/.state --dump --store dedupe.seen | head\n')
    .action(async (dir: string, opts: InspectOptions) => {
      if (!existsSync(dir)) {
        io.stderr(`error: ${dir}: no such directory\n`);
        fail(1);
      }
      const envs = findEnvironments(dir);
      if (envs.length === 0) {
        io.stderr(`error: ${dir}: no LMDB state here (a state dir holds data.mdb, or <app>/<task>/data.mdb for Kafka runs)\n`);
        fail(1);
      }
      const wantsKey = opts.key !== undefined || opts.keyJson !== undefined;
      if (wantsKey && opts.store === undefined) {
        io.stderr('error: --key needs --store <name>\n');
        fail(2);
      }
      let key: unknown = opts.key;
      if (opts.keyJson !== undefined) {
        try {
          key = JSON.parse(opts.keyJson);
        } catch {
          io.stderr(`error: --key-json ${JSON.stringify(opts.keyJson)} is not JSON\n`);
          fail(2);
        }
      }
      let found = 0;
      for (const path of envs) {
        if (!wantsKey && !opts.dump) {
          io.stdout((await describeEnvironment(path, dir)).join('\n') + '\n');
          continue;
        }
        const env = new LmdbStoreFactory({ path });
        try {
          const names = env.storeNames().filter((n) => opts.store === undefined || n === opts.store);
          for (const name of names) {
            const store = env.open<never, unknown>(name);
            const where = relative(dir, path) || '.';
            if (wantsKey) {
              const value = store.get(key as never);
              if (value === undefined) continue;
              found++;
              io.stdout(`${envs.length > 1 ? `${where} ` : ''}${toJson(value)}\n`);
              continue;
            }
            for (const { key: k, value } of store.range()) {
              found++;
              const expiresAt = (store as unknown as { expiresAtOf?: (x: unknown) => number | undefined }).expiresAtOf?.(k);
              io.stdout(`${toJson({ env: where, store: name, key: k, value, ...(expiresAt === undefined ? {} : { expiresAt }) })}\n`);
            }
          }
        } finally {
          await env.close();
        }
      }
      if (wantsKey && found === 0) {
        io.stderr(`error: no entry ${toJson(key)} in store ${opts.store ?? ''} under ${dir}\n`);
        fail(1);
      }
    });
}
