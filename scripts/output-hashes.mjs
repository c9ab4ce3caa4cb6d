#!/usr/bin/env node
// Hashes every output stream of every example pipeline (and of each benchmark pipeline over a
// generated stream), so a change that must not change results can be checked byte for byte:
//
//   npm run build && node scripts/output-hashes.mjs > before.txt
//   (change, build)  node scripts/output-hashes.mjs > after.txt && diff before.txt after.txt
//
// Options: --dist <dir> (default dist), --events <n> (generated events, default 50000).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const dist = resolve(ROOT, opt('dist', 'dist'));
const events = opt('events', '50000');
const cli = join(dist, 'bin', 'tributary.js');
const work = mkdtempSync(join(tmpdir(), 'tributary-hashes-'));
const generated = join(work, 'events.ndjson');
execFileSync(process.execPath, [cli, 'generate', '--events', events, '--seed', '3', '--out', generated], { stdio: 'ignore' });

const rees = join(ROOT, 'examples/data/rees46-2019-10-01-head.csv');
const retail = join(ROOT, 'examples/data/online-retail-2010-12-first-days.csv');
const cases = [
  ['cart-abandonment', 'examples/cart-abandonment/pipeline.yaml', generated],
  ['rees46-dedupe', 'examples/rees46-dedupe/pipeline.yaml', rees],
  ['rees46-sessions', 'examples/rees46-sessions/pipeline.yaml', rees],
  ['viewed-three-times', 'examples/viewed-three-times/pipeline.yaml', rees],
  ['retail-rfm', 'examples/retail-rfm/pipeline.yaml', retail],
  ['retail-segments', 'examples/retail-segments/pipeline.yaml', retail],
  ['retail-churn', 'examples/retail-churn/pipeline.yaml', retail],
  ['rees46-funnel', 'examples/rees46-funnel/pipeline.yaml', rees],
  ['attribution', 'examples/attribution/pipeline.yaml', generated],
  ['consent-gated-carts', 'examples/consent-gated-carts/pipeline.yaml', generated],
  ['forget', 'examples/forget/pipeline.yaml', rees],
];
const src = 'source: { key: [anonymousId, userId], allowedLateness: 1m }\n';
const inline = {
  'gen-dedupe': 'steps:\n  - dedupe: { ttl: 24h, output: duplicates }\n',
  'gen-identity': 'steps:\n  - joinIdentity: { output: identity-merges }\n',
  'gen-sessions': 'steps:\n  - sessionize: { key: [userId, anonymousId], gap: 30m, output: sessions }\n',
  'gen-tumbling': 'steps:\n  - windowAggregate: { key: [userId, anonymousId], window: { tumbling: 1h }, aggregates: { views: { count: {}, where: { event: product_viewed } }, revenue: { sum: properties.revenue, where: { event: purchase } }, last: { last: timestamp } }, output: features }\n',
  'gen-hopping': 'steps:\n  - windowAggregate: { key: [userId, anonymousId], window: { hopping: 2h, advance: 30m }, aggregates: { n: { count: {} }, hi: { max: properties.price }, lo: { min: properties.price }, firstEv: { first: event }, products: { countDistinct: properties.productId } }, output: features }\n',
  'gen-sliding': 'steps:\n  - windowAggregate: { key: [userId, anonymousId], window: { sliding: 2d }, aggregates: { n: { count: {} }, rev: { sum: properties.price }, avgp: { avg: properties.price }, hi: { max: properties.price }, lo: { min: properties.price }, f: { first: event }, l: { last: event }, d: { countDistinct: properties.productId }, top: { topK: { path: properties.category, k: 3 } } }, output: features }\n',
  'gen-session-window': 'steps:\n  - windowAggregate: { key: [userId, anonymousId], window: { session: 30m }, aggregates: { n: { count: {} }, rev: { sum: properties.price } }, output: features }\n',
  'gen-trigger': 'steps:\n  - trigger: { key: [userId, anonymousId], rules: [ { name: cart-abandoned, absence: { first: { event: add_to_cart }, then: { event: purchase }, within: 30m }, cooldown: 24h }, { name: viewed-3, threshold: { match: { event: product_viewed }, count: 3, within: 24h, per: properties.productId }, cooldown: 1h } ], output: campaign-triggers }\n',
};
for (const [name, body] of Object.entries(inline)) {
  const file = join(work, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\n${src}${body}`);
  cases.push([name, file, generated]);
}
for (const [name, pipeline, input] of cases) {
  const out = join(work, 'out', name);
  try {
    execFileSync(process.execPath, [cli, 'run', resolve(ROOT, pipeline), '--input', input, '--out-dir', out, '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    console.log(`${name} FAILED: ${String(e.stderr ?? e).split('\n').slice(0, 3).join(' | ')}`);
    continue;
  }
  for (const f of readdirSync(out).filter((f) => f.endsWith('.ndjson')).sort()) {
    const bytes = readFileSync(join(out, f));
    const lines = bytes.toString('utf8').split('\n').filter(Boolean).length;
    console.log(`${name}/${f} ${lines} ${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`);
  }
}
rmSync(work, { recursive: true, force: true });
