// HTTP basic auth to the schema registry: from the client's option or from credentials in the
// URL (taken out of it, so no error shows them); a refused login says which fix applies. A real
// HTTP server that checks the Authorization header as a Confluent registry with basic auth does.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { SchemaRegistryClient, SchemaRegistryError } from '../../lib/serde/schema-registry.js';

const PASSWORD = 's3cret-never-shown';
const GOOD = `Basic ${Buffer.from(`app:${PASSWORD}`).toString('base64')}`;
const SCHEMA = JSON.stringify({ type: 'record', name: 'Old', namespace: 'x', fields: [{ name: 'a', type: 'long' }] });
const authorizations: Array<string | undefined> = [];
let server: Server;
let port: number;

before(async () => {
  server = createServer((req, res) => {
    authorizations.push(req.headers.authorization);
    const reply = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
      res.end(JSON.stringify(json));
    };
    if (req.headers.authorization !== GOOD) return reply(401, { error_code: 401, message: 'Unauthorized' });
    if (req.url === '/schemas/ids/7') return reply(200, { schema: SCHEMA });
    return reply(404, { error_code: 40403, message: 'Schema not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function failure(p: Promise<unknown>): Promise<SchemaRegistryError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SchemaRegistryError, String(e));
    return e;
  }
  assert.fail('no SchemaRegistryError');
}

test('basicAuth: the Authorization header on every request', async () => {
  authorizations.length = 0;
  const registry = new SchemaRegistryClient(`http://127.0.0.1:${port}`, { basicAuth: { username: 'app', password: PASSWORD } });
  assert.equal((await registry.schemaById(7)).name, 'x.Old');
  assert.deepEqual(authorizations, [GOOD]);
});

test('credentials in the URL are used as basic auth and shown nowhere', async () => {
  authorizations.length = 0;
  const registry = new SchemaRegistryClient(`http://app:${PASSWORD}@127.0.0.1:${port}/`);
  assert.equal((await registry.schemaById(7)).name, 'x.Old');
  const missing = await failure(registry.schemaById(8));
  assert.equal(missing.message, `schema registry GET http://127.0.0.1:${port}/schemas/ids/8: HTTP 404 Not Found (error_code 40403: Schema not found)`);
  assert.equal(missing.url, `http://127.0.0.1:${port}/schemas/ids/8`);
  assert.deepEqual(authorizations, [GOOD, GOOD]);
});

test('a refused login: check the password when one was given, give one when none was', async () => {
  const wrong = await failure(new SchemaRegistryClient(`http://127.0.0.1:${port}`, { basicAuth: { username: 'app', password: 'wrong-pw' } }).schemaById(7));
  assert.equal(wrong.message, `schema registry GET http://127.0.0.1:${port}/schemas/ids/7: HTTP 401 Unauthorized (error_code 401: Unauthorized): check the registry username and password`);
  assert.equal(wrong.status, 401);
  const none = await failure(new SchemaRegistryClient(`http://127.0.0.1:${port}`).schemaById(7));
  assert.equal(none.message, `schema registry GET http://127.0.0.1:${port}/schemas/ids/7: HTTP 401 Unauthorized (error_code 401: Unauthorized): the registry wants a login (--schema-registry-username, SCHEMA_REGISTRY_USERNAME)`);
});
