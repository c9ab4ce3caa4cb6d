// Where `tributary run` serves its operations endpoint: --metrics-port, else TRIBUTARY_METRICS_PORT,
// else metrics.port in the definition; a bad variable is refused before anything runs.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const pipeline = (extra = '') => `name: ports
source: { key: [userId] }
steps:
  - dedupe: { key: messageId, ttl: 1h }
${extra}`;
const input = JSON.stringify({ messageId: 'm1', type: 'track', event: 'x', userId: 'u1', timestamp: 0 }) + '\n';

function run(def: string, args: string[], env: Record<string, string> = {}) {
  const dir = tempDir();
  writeFileSync(join(dir, 'p.yaml'), def);
  return tributary(['run', join(dir, 'p.yaml'), '--input', '-', '--out-dir', join(dir, 'out'), '-q', ...args], input, { ...process.env, TRIBUTARY_METRICS_PORT: '', ...env });
}
const announced = (stderr: string) => /operations endpoint: http:\/\/([\d.]+):(\d+)\/metrics/.exec(stderr)?.slice(1);

test('metrics.port in the definition, TRIBUTARY_METRICS_PORT over it, --metrics-port over both; metrics.host binds', () => {
  // Port 0 everywhere (a free port): the announced line says which source was taken by its host.
  const fromDefinition = run(pipeline('metrics: { port: 0, host: 127.0.0.2 }'), []);
  assert.equal(fromDefinition.code, 0, fromDefinition.stderr);
  assert.equal(announced(fromDefinition.stderr)?.[0], '127.0.0.2');
  const fromEnv = run(pipeline(), [], { TRIBUTARY_METRICS_PORT: '0' });
  assert.equal(fromEnv.code, 0, fromEnv.stderr);
  assert.equal(announced(fromEnv.stderr)?.[0], '127.0.0.1');
  const flagWins = run(pipeline('metrics: { port: 1, host: 127.0.0.2 }'), ['--metrics-port', '0', '--metrics-host', '127.0.0.3'], { TRIBUTARY_METRICS_PORT: '2' });
  assert.equal(flagWins.code, 0, flagWins.stderr);
  assert.equal(announced(flagWins.stderr)?.[0], '127.0.0.3');
  const none = run(pipeline(), []);
  assert.equal(none.code, 0);
  assert.equal(announced(none.stderr), undefined, 'no endpoint unless asked for');
});

test('a bad TRIBUTARY_METRICS_PORT or metrics.port: exit 2 with what to fix, nothing run', () => {
  const env = run(pipeline(), [], { TRIBUTARY_METRICS_PORT: 'http' });
  assert.equal(env.code, 2);
  assert.equal(env.stderr, 'error: TRIBUTARY_METRICS_PORT must be a port number from 0 to 65535, got "http"\n');
  const def = run(pipeline('metrics: { port: 70000 }'), []);
  assert.equal(def.code, 2);
  assert.match(def.stderr, /p\.yaml:5:18 metrics\.port: 70000 must be <= 65535\n/);
  // Past the last port the flags were taken, and Node's own error ended the run with exit 1.
  const flag = run(pipeline(), ['--metrics-port', '65536']);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /--metrics-port must be a port number from 0 to 65535, got "65536"/);
  const state = run(pipeline(), ['--state-port', '99999']);
  assert.equal(state.code, 2);
  assert.match(state.stderr, /--state-port must be a port number from 0 to 65535, got "99999"/);
  // A newline in the host made a two-line error when the server could not listen, after the run began.
  const host = run(pipeline(), ['--metrics-port', '0', '--metrics-host', 'evil\nhost']);
  assert.equal(host.code, 2);
  assert.match(host.stderr, /--metrics-host must be an IP address or a host name, got "evil\\nhost"/);
  assert.deepEqual(host.stderr.trimEnd().split('\n').slice(1), ['(add --help for usage)'], 'the value\'s newline shown as \\n');
});
