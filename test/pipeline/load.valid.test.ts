import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { pipeline } from '../../lib/pipeline/builder.js';
import { compilePipeline, describeTopology } from '../../lib/pipeline/compile.js';
import { buildPipelineSchema } from '../../lib/pipeline/schema.js';
import { loadPipelineFile, parsePipeline, validatePipeline } from '../../lib/pipeline/load.js';
import { defaultRegistry } from '../../operators/index.js';
import { parse, stringify } from 'yaml';
import { storesOfSub } from '../../lib/runtime/kafka/topics.js';

const yaml = `
name: dedupe-clicks
source:
  topic: behavior-events
  key: [anonymousId, userId]
  allowedLateness: 1m
steps:
  - dedupe: { key: messageId, ttl: 24h, output: duplicates }
sink: { topic: behavior-events-deduped }
outputs:
  duplicates: { topic: behavior-duplicates, format: avro }
`;

test('the TypeScript builder produces exactly what the YAML parses to', () => {
  const built = pipeline('dedupe-clicks')
    .source({ topic: 'behavior-events', key: ['anonymousId', 'userId'], allowedLateness: '1m' })
    .step('dedupe', { key: 'messageId', ttl: '24h', output: 'duplicates' })
    .sink({ topic: 'behavior-events-deduped' })
    .output('duplicates', { topic: 'behavior-duplicates', format: 'avro' })
    .build();
  assert.deepEqual(built, parsePipeline(yaml, 'p.yaml', defaultRegistry));
  assert.deepEqual(validatePipeline(built, defaultRegistry), built);
});

test('compile: resolved steps, stores, streams with their topics, one sub-topology', () => {
  const t = compilePipeline(parsePipeline(yaml, 'p.yaml', defaultRegistry), defaultRegistry);
  assert.deepEqual(t.steps.map((s) => [s.name, s.operator, s.key, s.stores, s.config]), [
    ['dedupe', 'dedupe', ['messageId'], ['dedupe.seen'], { key: ['messageId'], ttlMs: 86_400_000, output: 'duplicates' }],
  ]);
  assert.deepEqual(t.streams.map((s) => [s.name, s.producer, s.topic, s.format]), [
    ['events', 'dedupe', 'behavior-events-deduped', 'json'],
    ['dead-letter', 'source', 'dedupe-clicks-dead-letter', 'json'],
    ['late', 'source', 'dedupe-clicks-late', 'json'],
    ['forgotten', 'source', 'dedupe-clicks-forgotten', 'json'],
    ['duplicates', 'dedupe', 'behavior-duplicates', 'avro'],
  ]);
  assert.equal(t.source.allowedLatenessMs, 60_000);
  assert.equal(t.source.idleTimeoutMs, 30_000);
  assert.deepEqual(t.subTopologies, [{ id: 0, key: ['anonymousId', 'userId'], steps: ['dedupe'], input: 'source', partitions: 'source', upstream: [], next: undefined }], 'dedupe by messageId needs no repartition');
  assert.match(describeTopology(t), /dedupe: dedupe key=messageId stores=dedupe\.seen → duplicates/);
});

test('repeated operators get indexed step names; source.timestamp maps the raw field', () => {
  const def = parsePipeline('name: two\nsource: { timestamp: ts }\nsteps:\n  - dedupe: {}\n  - dedupe: { key: properties.orderId }\n', 'p.yaml', defaultRegistry);
  const t = compilePipeline(def, defaultRegistry);
  assert.deepEqual(t.steps.map((s) => s.name), ['dedupe-0', 'dedupe-1']);
  assert.deepEqual(t.source.mapping.fields, { timestamp: 'ts' });
  assert.deepEqual(t.subTopologies.map((s) => [s.input, s.steps]), [
    ['source', ['dedupe-0']],
    ['two-dedupe-1-repartition', ['dedupe-1']],
  ]);
});

test('sub-topologies split only where a step needs its own key: the cart-abandonment pipeline', () => {
  const def = loadPipelineFile(new URL('../../../examples/cart-abandonment/pipeline.yaml', import.meta.url).pathname, defaultRegistry);
  const t = compilePipeline(def, defaultRegistry);
  assert.deepEqual(t.steps.map((s) => [s.name, s.partitioning]), [
    ['dedupe', 'any'], ['joinIdentity', 'global'], ['sessionize', 'key'], ['windowAggregate', 'key'], ['trigger', 'key'],
  ]);
  assert.deepEqual(t.subTopologies, [
    { id: 0, key: ['anonymousId', 'userId'], steps: ['dedupe'], input: 'source', partitions: 'source', upstream: [], next: 1 },
    // one identity graph: joinIdentity in one task behind a single-partition topic
    { id: 1, key: undefined, steps: ['joinIdentity'], input: 'cart-abandonment-joinIdentity-repartition', partitions: 1, upstream: [0], next: 2 },
    { id: 2, key: ['personId'], steps: ['sessionize', 'windowAggregate', 'trigger'], input: 'cart-abandonment-sessionize-repartition', partitions: 'source', upstream: [1], next: undefined },
  ]);
  // mode: global-table: the lookup stays in sub-topology 0 (it owns no identity store), a
  // one-task resolver reads what the lookups hand over, and both feed the next sub-topology.
  const spec = parse(readFileSync(new URL('../../../examples/cart-abandonment/pipeline.yaml', import.meta.url), 'utf8')) as { steps: Array<Record<string, Record<string, unknown>>> };
  spec.steps[1]!.joinIdentity!.mode = 'global-table';
  const g = compilePipeline(parsePipeline(stringify(spec), 'p.yaml', defaultRegistry), defaultRegistry);
  assert.deepEqual(g.subTopologies, [
    { id: 0, key: ['anonymousId', 'userId'], steps: ['dedupe', 'joinIdentity'], input: 'source', partitions: 'source', upstream: [], next: 2, lookups: ['joinIdentity'] },
    { id: 1, key: undefined, steps: ['joinIdentity'], input: 'cart-abandonment-joinIdentity-resolver', partitions: 1, upstream: [0], next: 2, resolver: 'joinIdentity' },
    { id: 2, key: ['personId'], steps: ['sessionize', 'windowAggregate', 'trigger'], input: 'cart-abandonment-sessionize-repartition', partitions: 'source', upstream: [0, 1], next: undefined },
  ]);
  assert.deepEqual(storesOfSub(g, g.subTopologies[0]!), ['dedupe.seen', '_task.s0']);
  assert.deepEqual(storesOfSub(g, g.subTopologies[1]!), ['joinIdentity.ids', 'joinIdentity.absorbed', 'joinIdentity.persons', 'joinIdentity.links', 'joinIdentity.refused', '_task.s1']);
  // A step after a global-table step starts a sub-topology even on the same key (the resolver's events must reach it).
  const after = compilePipeline(parsePipeline('name: a\nsource: {}\nsteps:\n  - joinIdentity: { mode: global-table }\n  - filter: { where: { type: track } }\n', 'p.yaml', defaultRegistry), defaultRegistry);
  assert.deepEqual(after.subTopologies.map((s) => [s.id, s.input, s.steps, s.upstream, s.next ?? null]), [
    [0, 'source', ['joinIdentity'], [], 2], [1, 'a-joinIdentity-resolver', ['joinIdentity'], [0], 2], [2, 'a-filter-repartition', ['filter'], [0, 1], null],
  ]);
  // A source without a declared key is partitioned unknowably: the first keyed step re-keys, and
  // sub-topology 0 then only forwards.
  const unkeyed = compilePipeline(parsePipeline('name: u\nsource: {}\nsteps:\n  - filter: { where: { type: track } }\n  - sessionize: { key: anonymousId }\n', 'p.yaml', defaultRegistry), defaultRegistry);
  assert.deepEqual(unkeyed.subTopologies.map((s) => [s.input, s.steps]), [['source', ['filter']], ['u-sessionize-repartition', ['sessionize']]]);
});

test('the shipped schema/pipeline.schema.json is the one the registry builds (run npm run schema)', () => {
  const shipped = JSON.parse(readFileSync(new URL('../../../schema/pipeline.schema.json', import.meta.url), 'utf8'));
  assert.deepEqual(shipped, buildPipelineSchema(defaultRegistry));
});

test('every example pipeline validates', () => {
  const def = loadPipelineFile(new URL('../../../examples/rees46-dedupe/pipeline.yaml', import.meta.url).pathname, defaultRegistry);
  assert.equal(def.name, 'rees46-dedupe');
});
