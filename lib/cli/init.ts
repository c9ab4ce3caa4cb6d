/**
 * `tributary init <dir>`: a new project's first pipeline, sample events and a test, ready to run.
 * Writes `pipeline.yaml` (dedupe → sessionize → a cart-abandonment trigger), `events.ndjson`
 * (generated: journeys with carts, purchases, duplicates and late events) and
 * `pipeline.test.mjs` (Node's test runner and the package's test driver), and prints the next
 * commands. Refuses to overwrite files that exist.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { generateEvents } from '../generate/index.js';

/** The files `init` writes, by name (pure: the command writes them). */
export function scaffold(name: string, events: number, seed: number): Record<string, string> {
  const pipeline = `# ${name}: drop duplicate deliveries, group each visitor's events into sessions, and emit a
# campaign trigger for a cart not followed by a purchase within 30 minutes.
#
#   tributary run pipeline.yaml --input events.ndjson --out-dir out
#   node --test pipeline.test.mjs
name: ${name}
source:
  key: [userId, anonymousId]   # first non-null field keys the events; none → dead letter
  timestamp: timestamp
  allowedLateness: 1m
steps:
  - dedupe: { key: messageId, ttl: 24h, output: duplicates }
  - sessionize: { key: [userId, anonymousId], gap: 30m, output: sessions }
  - trigger:
      key: [userId, anonymousId]
      rules:
        - name: cart-abandoned
          absence: { first: { event: add_to_cart }, then: { event: purchase }, within: 30m }
          cooldown: 24h
      output: campaign-triggers
`;
  const test = `// A test of pipeline.yaml in virtual time: no broker, no files; exact records.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { defaultRegistry } from 'tributary-streams/operators';
import { TestDriver } from 'tributary-streams/testing';

const yaml = readFileSync(new URL('./pipeline.yaml', import.meta.url), 'utf8');
const at = (minutes) => Date.UTC(2026, 0, 1) + minutes * 60_000;
const event = (id, minutes, name) => ({ messageId: id, type: 'track', event: name, userId: 'u1', timestamp: at(minutes) });

test('a cart without a purchase within 30 minutes fires once; a duplicate is dropped', () => {
  const driver = TestDriver.fromYaml(yaml, { registry: defaultRegistry });
  driver.pipe([event('m1', 0, 'product_viewed'), event('m2', 1, 'add_to_cart'), event('m2', 1, 'add_to_cart')]);
  assert.deepEqual(driver.read('duplicates').map((d) => d.messageId), ['m2']);
  driver.advanceWatermark(at(32));
  assert.deepEqual(driver.read('campaign-triggers').map((t) => [t.rule, t.firedAt]), [['cart-abandoned', at(31)]]);
  driver.end();
  assert.equal(driver.read('sessions').length, 1);
});
`;
  const lines = [...generateEvents({ events, seed })].map((e) => JSON.stringify(e));
  return { 'pipeline.yaml': pipeline, 'events.ndjson': lines.join('\n') + '\n', 'pipeline.test.mjs': test };
}

/** Adds `init` to the program. */
export function registerInit(program: Command, io: { stdout: (t: string) => void; stderr: (t: string) => void }, fail: (code: number) => never): void {
  program
    .command('init')
    .description('scaffold a pipeline, sample events and a test in <dir> (created if missing; existing files are never overwritten)')
    .argument('<dir>', 'directory for the new project')
    .option('--name <name>', 'pipeline name (default: the directory name)')
    .option('--events <n>', 'sample events to generate', (v) => Number(v), 2000)
    .addHelpText('after', '\nExample:\n  tributary init shop-pipeline && cd shop-pipeline && tributary run pipeline.yaml --input events.ndjson --out-dir out\n')
    .action((dir: string, opts: { name?: string; events: number }) => {
      const fromDir = (dir.split(/[\\/]/).filter(Boolean).at(-1) ?? '').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
      const name = opts.name ?? (fromDir || 'my-pipeline');
      if (!/^[a-z][a-z0-9-]*$/.test(name)) {
        io.stderr(`error: --name ${JSON.stringify(name)}: a pipeline name starts with a letter, then letters, digits and dashes\n`);
        fail(2);
      }
      if (!Number.isSafeInteger(opts.events) || opts.events < 1) {
        io.stderr('error: --events must be a whole number of at least 1\n');
        fail(2);
      }
      const files = scaffold(name, opts.events, 1);
      const existing = Object.keys(files).filter((f) => existsSync(join(dir, f)));
      if (existing.length > 0) {
        io.stderr(`error: ${existing.map((f) => join(dir, f)).join(', ')} already exist${existing.length === 1 ? 's' : ''}; nothing was written (choose another directory)\n`);
        fail(1);
      }
      mkdirSync(dir, { recursive: true });
      for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
      io.stdout(`wrote ${Object.keys(files).map((f) => join(dir, f)).join(', ')}\nnext:\n  cd ${dir}\n  tributary run pipeline.yaml --input events.ndjson --out-dir out\n  node --test pipeline.test.mjs   # needs the package: npm install tributary-streams\n`);
    });
}
