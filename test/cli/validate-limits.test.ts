// Values that would only fail once a run started are definition errors: `tributary validate`
// and `tributary run` exit 2 with file:line:column and the fix, and nothing runs. Too-long
// durations, numbers beyond exact integers, field paths that can never name a field, the
// validate step's schema file (inside the working directory, at most 1 MiB, its content never
// echoed) and definitions over 1 MiB however they are given (a pipe too).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

/** `tributary <args>` run in `cwd`, as a user runs it there. */
function cli(cwd: string, args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, input, encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr };
}

const HEAD = 'name: p\nsource:\n  key: [userId, anonymousId]\n';

/** Validates `text` as p.yaml in a fresh directory; also runs it and checks nothing ran. */
function refused(text: string, setup?: (dir: string) => void): string[] {
  const dir = tempDir();
  setup?.(dir);
  writeFileSync(join(dir, 'p.yaml'), text);
  writeFileSync(join(dir, 'e.ndjson'), '{"messageId":"m1","type":"track","event":"x","userId":"u1","timestamp":1767225600000}\n');
  const v = cli(dir, ['validate', 'p.yaml']);
  assert.equal(v.code, 2, v.stderr);
  const run = cli(dir, ['run', 'p.yaml', '--input', 'e.ndjson', '--out-dir', 'out']);
  assert.deepEqual([run.code, run.stderr], [2, v.stderr], 'run refuses the definition the same way');
  assert.equal(existsSync(join(dir, 'out')), false, 'nothing ran');
  const lines = v.stderr.trimEnd().split('\n');
  assert.match(lines.pop() as string, /^p\.yaml: invalid pipeline definition \(\d+ issues?\); nothing was run$/);
  return lines;
}

test('a duration too long to be meaningful (a 400-digit ttl, 100000d) is a definition error; 99999d is the longest', () => {
  const digits = '9'.repeat(400);
  assert.deepEqual(refused(`${HEAD}steps:\n  - dedupe: { ttl: ${digits}ms }\n`), [
    'p.yaml:5:20 steps[0].dedupe.ttl: "999999999999999999999999999999999999999… (404 characters) is too long a duration (at most 99999d, about 270 years; use a shorter one)',
  ]);
  assert.deepEqual(refused(`${HEAD}  allowedLateness: 100000d\nsteps: []\n`), [
    'p.yaml:4:20 source.allowedLateness: "100000d" is too long a duration (at most 99999d, about 270 years; use a shorter one)',
  ]);
  assert.deepEqual(refused(`${HEAD}steps:\n  - sessionize: { gap: 1000000000000000000000s }\n`), [
    'p.yaml:5:24 steps[0].sessionize.gap: "1000000000000000000000s" is too long a duration (at most 99999d, about 270 years; use a shorter one)',
  ]);
  const dir = tempDir();
  writeFileSync(join(dir, 'p.yaml'), `${HEAD}  allowedLateness: 99999d\nsteps:\n  - dedupe: { ttl: 9999999999999ms }\n`);
  assert.equal(cli(dir, ['validate', 'p.yaml']).code, 0);
});

test('numbers beyond exact integers, infinities and a record limit no record can reach are definition errors', () => {
  assert.deepEqual(refused(`${HEAD}  maxRecordBytes: ${'1'.repeat(400)}\nsteps:\n  - filter: { where: { 'properties.n': { $gt: 9007199254740993 } } }\n`), [
    'p.yaml:4:19 source.maxRecordBytes: Infinity is not a finite number; write a number of at most 15 digits',
    'p.yaml:6:47 steps[0].filter.where.properties.n.$gt: 9007199254740992 is too large to be exact (at most 9007199254740991); use a smaller number, or quote it if it is an identifier',
  ]);
  assert.deepEqual(refused(`${HEAD}  maxRecordBytes: 1073741824\nsteps: []\n`), [
    'p.yaml:4:19 source.maxRecordBytes: 1073741824 bytes is more than a record can be (at most 268435456, 256 MiB); use a smaller limit',
  ]);
  assert.deepEqual(refused(`${HEAD}metrics: { port: .inf }\nsteps: []\n`), [
    'p.yaml:4:18 metrics.port: Infinity must be <= 65535',
  ]);
});

test('a hopping window whose advance puts each event in more than 10000 windows, a commit interval no timer can wait: definition errors', () => {
  assert.deepEqual(refused(`${HEAD}steps:\n  - windowAggregate: { key: userId, window: { hopping: 99999d, advance: 1ms }, aggregates: { n: { count: {} } } }\n`), [
    'p.yaml:5:22 steps[0].windowAggregate: window.advance: "1ms" puts each event in 8639913600000 windows of "99999d", more than 10000; use an advance of at least 10d',
  ]);
  assert.deepEqual(refused(`${HEAD}kafka: { commitInterval: 25d }\nsteps: []\n`), [
    'p.yaml:4:26 kafka.commitInterval: "25d" is longer than the longest timer (24d), which Node.js would cut to 1 ms; use at most 24d (the default is 100ms)',
  ]);
  const dir = tempDir();
  writeFileSync(join(dir, 'p.yaml'), `${HEAD}kafka: { commitInterval: 24d }\nsteps:\n  - windowAggregate: { key: userId, window: { hopping: 1d, advance: 1m }, aggregates: { n: { count: {} } } }\n`);
  assert.equal(cli(dir, ['validate', 'p.yaml']).code, 0);
});

test('a metrics host that is no address is a definition error; an address of another machine fails the run at once with the fix', () => {
  assert.deepEqual(refused(`${HEAD}metrics: { host: 'not a host!' }\nsteps: []\n`), [
    'p.yaml:4:18 metrics.host: "not a host!" is not an IP address or a host name; use an address of this machine, e.g. 127.0.0.1, 0.0.0.0 or localhost',
  ]);
  const dir = tempDir();
  writeFileSync(join(dir, 'p.yaml'), `${HEAD}steps: []\n`);
  writeFileSync(join(dir, 'e.ndjson'), '');
  const r = cli(dir, ['run', 'p.yaml', '--input', 'e.ndjson', '--out-dir', 'out', '--metrics-port', '0', '--metrics-host', '10.255.255.1']);
  assert.deepEqual([r.code, r.stderr], [1, 'error: cannot listen on 10.255.255.1:0 (listen EADDRNOTAVAIL: address not available 10.255.255.1): choose an address of this machine with --metrics-host (e.g. 127.0.0.1 or 0.0.0.0)\n']);
});

test('a pipeline, step or stream name over 100 characters (Kafka topics are named from them) is a definition error', () => {
  const long = `a${'b'.repeat(100)}`;
  const message = 'a name of 101 characters is too long (at most 100: Kafka topics are named from it and stop at 249 characters); use a shorter one';
  assert.deepEqual(refused(`name: ${long}\nsource:\n  key: [userId]\nsteps:\n  - dedupe: { name: ${long}, output: ${long} }\n`), [
    `p.yaml:1:7 name: ${message}`,
    `p.yaml:5:21 steps[0].dedupe.name: ${message}`,
    `p.yaml:5:132 steps[0].dedupe.output: ${message}`,
  ]);
});

test('field paths that can never name a field (__proto__, constructor, prototype, empty segments) are definition errors', () => {
  const fix = 'write a dotted path of field names, e.g. properties.productId';
  assert.deepEqual(refused(`name: p
source:
  key: [userId, constructor.id]
  timestamp: a..b
  mapping:
    fields: { '__proto__.polluted': user_id, userId: 'raw.prototype' }
    defaults: { 'constructor': web }
steps:
  - dedupe: { key: [messageId, prototype] }
  - filter: { where: { '__proto__.x': 1 } }
`), [
    `p.yaml:3:17 source.key[1]: "constructor.id" is not a usable field path (segment "constructor" is not allowed); ${fix}`,
    `p.yaml:4:14 source.timestamp: "a..b" is not a usable field path (empty segment); ${fix}`,
    `p.yaml:6:15 source.mapping.fields.__proto__.polluted: "__proto__.polluted" is not a usable field path (segment "__proto__" is not allowed); ${fix}`,
    `p.yaml:6:54 source.mapping.fields.userId: "raw.prototype" is not a usable field path (segment "prototype" is not allowed); ${fix}`,
    `p.yaml:7:17 source.mapping.defaults.constructor: "constructor" is not a usable field path (segment "constructor" is not allowed); ${fix}`,
    `p.yaml:9:32 steps[0].dedupe.key[1]: "prototype" is not a usable field path (segment "prototype" is not allowed); ${fix}`,
    'p.yaml:10:13 steps[1].filter: where: __proto__.x: "__proto__.x" is not a usable field path (segment "__proto__" is not allowed); write a dotted path of field names, e.g. properties.price',
  ]);
});

test('jsonSchemaFile: inside the working directory, at most 1 MiB, and its content never shown', () => {
  const step = (path: string) => `${HEAD}steps:\n  - validate: { jsonSchemaFile: ${JSON.stringify(path)} }\n`;
  const at = 'p.yaml:5:15 steps[0].validate: jsonSchemaFile';
  assert.deepEqual(refused(step('/etc/passwd')), [`${at} "/etc/passwd" is an absolute path; give a path relative to the working directory (e.g. schemas/event.json), or put the schema inline with jsonSchema`]);
  assert.deepEqual(refused(step('schemas/../../secret.json')), [`${at} "schemas/../../secret.json" leaves the working directory; give a path inside it (e.g. schemas/event.json), or put the schema inline with jsonSchema`]);
  const outside = tempDir();
  writeFileSync(join(outside, 'secret.json'), '{"type":"object"}');
  assert.deepEqual(refused(step('linked.json'), (dir) => symlinkSync(join(outside, 'secret.json'), join(dir, 'linked.json'))), [`${at} "linked.json" is a link out of the working directory; give the path of a file inside it`]);
  assert.deepEqual(refused(step('big.json'), (dir) => writeFileSync(join(dir, 'big.json'), `{"description":"${'x'.repeat(1 << 20)}"}`)), [`${at} "big.json" is larger than 1024 KiB, too large for a JSON Schema; give the schema file itself`]);
  const secret = refused(step('creds.txt'), (dir) => writeFileSync(join(dir, 'creds.txt'), 'password=hunter2\n'));
  assert.deepEqual(secret, [`${at} "creds.txt" is not valid JSON; fix the file (a JSON Schema object)`]);
  assert.deepEqual(refused(step('bad.json'), (dir) => writeFileSync(join(dir, 'bad.json'), '{\n  "secret": hunter2\n}\n')), [`${at} "bad.json" is not valid JSON; fix the file (a JSON Schema object)`]);
  assert.deepEqual(refused(step('schemas'), (dir) => mkdirSync(join(dir, 'schemas'))), [`${at} "schemas" is not a regular file; give the path of a JSON Schema file`]);
  assert.deepEqual(refused(step('list.json'), (dir) => writeFileSync(join(dir, 'list.json'), '[1, 2]')), [`${at} "list.json" does not hold a JSON object; a JSON Schema is an object, e.g. {"type": "object"}`]);
  // A schema file inside the working directory, in a sub-directory, is read.
  const dir = tempDir();
  mkdirSync(join(dir, 'schemas'));
  writeFileSync(join(dir, 'schemas', 'event.json'), '{"type":"object","required":["event"]}');
  writeFileSync(join(dir, 'p.yaml'), step('schemas/event.json'));
  assert.equal(cli(dir, ['validate', 'p.yaml']).code, 0);
});

test('a definition over 1 MiB is refused however it is given: a file, or a pipe read no further than the limit', () => {
  const dir = tempDir();
  const big = `${HEAD}steps: []\n${`# ${'x'.repeat(1022)}\n`.repeat(3 * 1024)}`;
  const hint = 'is it an events file? Give the pipeline definition first, the events with --input: tributary run <pipeline.yaml> --input <events>';
  writeFileSync(join(dir, 'big.yaml'), big);
  const r = spawnSync('sh', ['-c', `cat big.yaml | "${process.execPath}" "${BIN}" run /dev/stdin --input e.ndjson --out-dir out`], { cwd: dir, encoding: 'utf8' });
  const piped = { code: r.status, stderr: r.stderr };
  assert.deepEqual([piped.code, piped.stderr], [2, `/dev/stdin:1:1 (root): more than 1024 KiB is not a pipeline definition (a definition is a few KB, at most 1024 KiB); ${hint}\n/dev/stdin: invalid pipeline definition (1 issue); nothing was run\n`]);
  const file = cli(dir, ['run', 'big.yaml', '--input', 'e.ndjson', '--out-dir', 'out']);
  assert.deepEqual([file.code, file.stderr.split('\n')[0]], [2, `big.yaml:1:1 (root): 3075 KiB is not a pipeline definition (a definition is a few KB, at most 1024 KiB); ${hint}`]);
  assert.equal(existsSync(join(dir, 'out')), false);
});
