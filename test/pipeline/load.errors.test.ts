import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DefinitionError } from '../../lib/pipeline/errors.js';
import { parsePipeline } from '../../lib/pipeline/load.js';
import { filterOperator } from '../../operators/filter.js';
import { defaultRegistry } from '../../operators/index.js';

const errorsOf = (text: string): string[] => {
  try {
    parsePipeline(text, 'p.yaml', defaultRegistry);
  } catch (e) {
    if (e instanceof DefinitionError) return e.message.split('\n');
    throw e;
  }
  return [];
};

const KNOWN = [...defaultRegistry.keys()].join(', ');

const base = (steps: string, extra = '') => `name: demo
source:
  key: anonymousId
steps:
${steps}${extra}`;

const cases: Array<{ name: string; text: string; errors: string[] }> = [
  {
    name: 'a duration written in words',
    text: base('  - dedupe: { ttl: 30 minutes }\n'),
    errors: ['p.yaml:5:20 steps[0].dedupe.ttl: "30 minutes" is not a duration (use 30m)'],
  },
  {
    name: 'a misspelt option key',
    text: base('  - dedupe:\n      tll: 1h\n'),
    errors: ['p.yaml:6:7 steps[0].dedupe.tll: unknown key (did you mean ttl?); allowed: key, ttl, output, name'],
  },
  {
    name: 'an unknown operator',
    text: base('  - dedup: {}\n'),
    errors: [`p.yaml:5:5 steps[0].dedup: unknown operator (did you mean dedupe?); known: ${KNOWN}`],
  },
  {
    name: 'a key repeated in a mapping, at two levels (found in one pass, at the repeated key)',
    text: 'name: demo\nsource: { key: userId, key: a }\nsteps:\n  - dedupe: { ttl: 1h, ttl: 2h }\nname: again\n',
    errors: [
      'p.yaml:2:24 (root): Map keys must be unique (fix the YAML/JSON syntax here)',
      'p.yaml:4:24 (root): Map keys must be unique (fix the YAML/JSON syntax here)',
      'p.yaml:5:1 (root): Map keys must be unique (fix the YAML/JSON syntax here)',
    ],
  },
  {
    name: 'thousands of unknown keys: the first 20 shown, the rest counted',
    text: `name: demo\nsource: {}\nsteps: []\n${Array.from({ length: 3000 }, (_, i) => `k${i}: 1\n`).join('')}`,
    errors: [
      ...Array.from({ length: 20 }, (_, i) => `p.yaml:${4 + i}:1 k${i}: unknown key; allowed: name, description, source, steps, sink, outputs, guarantee, onProcessingError, metrics, kafka`),
      'p.yaml:23:1 k19: … and 2980 more problems after this one (fix the first ones first)',
    ],
  },
  {
    name: 'a missing required top-level key',
    text: 'name: demo\nsource: {}\n',
    errors: ['p.yaml:1:1 steps: missing required key "steps"'],
  },
  {
    name: 'a wrong enum value',
    text: 'name: demo\nsource:\n  format: jsn\nsteps: []\n',
    errors: ['p.yaml:3:11 source.format: "jsn" is not one of json, csv, avro (did you mean json?)'],
  },
  {
    name: 'a bad pipeline name',
    text: 'name: Demo Pipeline\nsource: {}\nsteps: []\n',
    errors: ['p.yaml:1:7 name: "Demo Pipeline" is not a valid name (use lowercase letters, digits and -, starting with a letter)'],
  },
  {
    name: 'a key that is neither a string nor a list',
    text: 'name: demo\nsource:\n  key: 42\nsteps: []\n',
    errors: ['p.yaml:3:8 source.key: 42 must be a string or a list of strings'],
  },
  {
    name: 'an output naming a stream no step writes',
    text: base('  - dedupe: { output: duplicates }\n', 'outputs:\n  duplicate: { topic: dups }\n'),
    errors: ['p.yaml:7:3 outputs.duplicate: no step writes a stream "duplicate" (did you mean duplicates?); streams: duplicates, events, dead-letter, late, forgotten'],
  },
  {
    name: 'a step writing a built-in stream',
    text: base('  - dedupe: { output: late }\n'),
    errors: ['p.yaml:5:23 steps[0].dedupe.output: "late" is a built-in stream; name the output something else (e.g. dedupe-duplicates)'],
  },
  {
    name: 'two steps with the same explicit name',
    text: base('  - dedupe: { name: d }\n  - dedupe: { name: d }\n'),
    errors: ['p.yaml:6:5 steps[1]: step name "d" is used twice (steps[0] too); set a distinct name: in the step\'s options'],
  },
  {
    name: 'a step with two operator keys',
    text: base('  - dedupe: {}\n    other: {}\n'),
    errors: [`p.yaml:5:5 steps[0]: a step has exactly one operator key (one of ${KNOWN}), found dedupe, other`],
  },
  {
    name: 'broken YAML syntax',
    text: 'name: demo\nsource: {\nsteps: []\n',
    errors: [],
  },
  {
    // A tag the parser does not know left its value a string, taken as a key path: every event
    // went to dead-letter (missing-key) while validate said the definition was valid.
    name: 'tags the parser does not know (YAML types are fine)',
    text: 'name: demo\nsource:\n  key: !!js/function "function(){return 1}"\n  allowedLateness: !!str 1m\nsteps:\n  - dedupe: { ttl: !evil 24h }\n',
    errors: [
      'p.yaml:3:8 (root): unsupported tag tag:yaml.org,2002:js/function: a definition takes plain YAML values; remove the tag (fix the YAML/JSON syntax here)',
      'p.yaml:6:20 (root): unsupported tag !evil: a definition takes plain YAML values; remove the tag (fix the YAML/JSON syntax here)',
    ],
  },
  {
    // Echoed as they were, an escape sequence in a key cleared the terminal and a NUL was printed raw.
    name: 'control characters in a key are shown as escapes, not sent to the terminal',
    text: base('  - dedupe: { "t\u001b[2Jtl": 1h, "x\u0000": 1 }\n'),
    errors: [
      'p.yaml:5:15 steps[0].dedupe.t\\u001b[2Jtl: unknown key; allowed: key, ttl, output, name',
      'p.yaml:5:30 steps[0].dedupe.x\\u0000: unknown key; allowed: key, ttl, output, name',
    ],
  },
];

for (const c of cases) {
  test(`invalid definition: ${c.name}`, () => {
    const errors = errorsOf(c.text);
    if (c.errors.length === 0) {
      assert.ok(errors.length > 0, 'expected a syntax error');
      assert.match(errors[0] as string, /^p\.yaml:\d+:\d+ \(root\): .*\(fix the YAML\/JSON syntax here\)$/);
    } else {
      assert.deepEqual(errors, c.errors);
    }
  });
}

test('every issue is reported at once', () => {
  const errors = errorsOf('name: demo\nsource:\n  allowedLateness: 1 minute\n  format: xml\nsteps:\n  - dedupe: { ttl: 1 hour }\n');
  assert.deepEqual(errors, [
    'p.yaml:3:20 source.allowedLateness: "1 minute" is not a duration (use 1m)',
    'p.yaml:4:11 source.format: "xml" is not one of json, csv, avro',
  ]);
});

test('JSON definitions get positions too', () => {
  const errors = errorsOf('{\n  "name": "demo",\n  "source": {},\n  "steps": [ { "dedupe": { "ttl": "2 days" } } ]\n}\n');
  assert.deepEqual(errors, ['p.yaml:4:35 steps[0].dedupe.ttl: "2 days" is not a duration (use 2d)']);
});

// The parser's own stack overflow was shown as "Maximum call stack size exceeded", at a place
// that depends on the stack (so only the line is fixed here).
test('thousands of nested levels: one issue that says so', () => {
  const errors = errorsOf(`name: demo\nsource: { key: anonymousId }\nsteps: []\nx: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`);
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0]!, /^p\.yaml:4:\d+ \(root\): nested too deep for the parser \(thousands of levels\): a definition is a few levels deep; remove the extra nesting \(fix the YAML\/JSON syntax here\)$/);
});

test('validators are compiled once per registry: the same definition errors on every call, and an operator added to the registry later is known', () => {
  const registry = new Map(defaultRegistry);
  const yaml = 'name: p\nsource: { key: [userId] }\nsteps:\n  - dedupe: { ttl: 5 }\n  - shout: { where: { event: purchase } }\n';
  const messages = () => {
    try {
      parsePipeline(yaml, 'p.yaml', registry);
      return [];
    } catch (e) {
      return (e as DefinitionError).issues.map((i) => `${i.line}:${i.column} ${i.message}`);
    }
  };
  const first = messages();
  assert.equal(first.length, 2, first.join('\n'));
  assert.match(first[0]!, /^4:\d+ /);
  assert.match(first[1]!, /^5:\d+ unknown operator/);
  assert.deepEqual(messages(), first, 'the second call reports the same issues');
  registry.set('shout', { ...filterOperator, name: 'shout' } as never);
  const after = messages();
  assert.equal(after.length, 1, after.join('\n'));
  assert.deepEqual(after[0], first[0]);
});
