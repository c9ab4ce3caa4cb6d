import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { avroEventSchema } from '../../lib/serde/avro.js';
import { SchemaRegistryClient, SchemaRegistryError } from '../../lib/serde/schema-registry.js';

/** A Confluent-compatible registry in-process: GET /schemas/ids/:id and POST /subjects/:s/versions. */
interface Seen {
  method: string;
  path: string;
  contentType: string | undefined;
  body: string;
}
const seen: Seen[] = [];
const schemas = new Map<number, string>([[7, JSON.stringify({ type: 'record', name: 'Old', namespace: 'x', fields: [{ name: 'a', type: 'long' }] })]]);
const bySubject = new Map<string, number>();
let nextId = 100;
let delayMs = 0;
let server: Server;
let url: string;

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (s += c));
    req.on('end', () => resolve(s));
  });

before(async () => {
  server = createServer(async (req, res) => {
    const body = await readBody(req);
    const path = req.url ?? '';
    seen.push({ method: req.method ?? '', path, contentType: req.headers['content-type'], body });
    const reply = (status: number, json: unknown) => {
      setTimeout(() => {
        res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
        res.end(JSON.stringify(json));
      }, delayMs);
    };
    let m = /^\/schemas\/ids\/(\d+)$/.exec(path);
    if (req.method === 'GET' && m) {
      if (m[1] === '9') return reply(200, { schema: '{"type":"protobuf?"', schemaType: 'PROTOBUF' });
      if (m[1] === '10') return reply(500, { error_code: 50001, message: 'Error in the backend data store' });
      const schema = schemas.get(Number(m[1]));
      return schema === undefined ? reply(404, { error_code: 40403, message: 'Schema not found' }) : reply(200, { schema });
    }
    m = /^\/subjects\/([^/]+)\/versions$/.exec(path);
    if (req.method === 'POST' && m) {
      const subject = decodeURIComponent(m[1] as string);
      if (subject === 'incompatible-value') return reply(409, { error_code: 409, message: 'Schema being registered is incompatible with an earlier schema' });
      const schema = (JSON.parse(body) as { schema: string }).schema;
      const key = `${subject}\u0000${schema}`;
      let id = bySubject.get(key);
      if (id === undefined) {
        id = nextId++;
        bySubject.set(key, id);
        schemas.set(id, schema);
      }
      return reply(200, { id });
    }
    reply(404, { error_code: 404, message: 'HTTP 404 Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

test('schemaById fetches GET /schemas/ids/{id} once and caches the avsc type', async () => {
  seen.length = 0;
  const client = new SchemaRegistryClient(`${url}/`);
  assert.equal(client.cachedSchemaById(7), undefined);
  const type = await client.schemaById(7);
  assert.equal(type.name, 'x.Old');
  assert.deepEqual({ ...(type.fromBuffer(Buffer.from([4])) as object) }, { a: 2 });
  assert.deepEqual(seen, [{ method: 'GET', path: '/schemas/ids/7', contentType: undefined, body: '' }]);
  assert.equal(await client.schemaById(7), type);
  assert.equal(client.cachedSchemaById(7), type);
  assert.equal(seen.length, 1);
});

test('concurrent schemaById calls for one id share one request', async () => {
  seen.length = 0;
  delayMs = 50;
  try {
    const client = new SchemaRegistryClient(url);
    const [a, b, c] = await Promise.all([client.schemaById(7), client.schemaById(7), client.schemaById(7)]);
    assert.equal(a, b);
    assert.equal(b, c);
    assert.equal(seen.length, 1);
  } finally {
    delayMs = 0;
  }
});

test('an unknown id rejects with the URL, the status and the registry error, and is not cached', async () => {
  seen.length = 0;
  const client = new SchemaRegistryClient(url);
  const expected = {
    name: 'SchemaRegistryError',
    message: `schema registry GET ${url}/schemas/ids/404: HTTP 404 Not Found (error_code 40403: Schema not found)`,
    url: `${url}/schemas/ids/404`,
    status: 404,
    errorCode: 40403,
    registryMessage: 'Schema not found',
  };
  await assert.rejects(client.schemaById(404), (err: unknown) => {
    assert.ok(err instanceof SchemaRegistryError);
    assert.deepEqual({ name: err.name, message: err.message, url: err.url, status: err.status, errorCode: err.errorCode, registryMessage: err.registryMessage }, expected);
    return true;
  });
  await assert.rejects(client.schemaById(404), { message: expected.message });
  assert.equal(seen.length, 2);
});

test('a server error and a non-Avro schema are clear errors', async () => {
  const client = new SchemaRegistryClient(url);
  await assert.rejects(client.schemaById(10), {
    name: 'SchemaRegistryError',
    status: 500,
    message: `schema registry GET ${url}/schemas/ids/10: HTTP 500 Internal Server Error (error_code 50001: Error in the backend data store)`,
  });
  await assert.rejects(client.schemaById(9), { message: `schema registry GET ${url}/schemas/ids/9: schema 9 is PROTOBUF, not AVRO` });
});

test('an unreachable registry rejects with the URL and no status', async () => {
  const dead = createServer();
  await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
  const port = (dead.address() as AddressInfo).port;
  await new Promise<void>((resolve) => dead.close(() => resolve()));
  const client = new SchemaRegistryClient(`http://127.0.0.1:${port}`);
  await assert.rejects(client.schemaById(1), (err: unknown) => {
    assert.ok(err instanceof SchemaRegistryError);
    assert.equal(err.status, undefined);
    assert.match(err.message, new RegExp(`^schema registry GET http://127\\.0\\.0\\.1:${port}/schemas/ids/1 failed: fetch failed \\(.*ECONNREFUSED.*\\)$`));
    return true;
  });
});

test('a registry slower than timeoutMs rejects with the timeout', async () => {
  delayMs = 300;
  try {
    const client = new SchemaRegistryClient(url, { timeoutMs: 50 });
    await assert.rejects(client.schemaById(7), { name: 'SchemaRegistryError', message: `schema registry GET ${url}/schemas/ids/7 failed: no answer within 50ms` });
  } finally {
    delayMs = 0;
  }
});

test('register POSTs the schema as a JSON string with the registry content type, once per subject and schema', async () => {
  seen.length = 0;
  const client = new SchemaRegistryClient(url);
  const schema = avroEventSchema();
  const [id, again] = await Promise.all([client.register('behavior events-value', schema), client.register('behavior events-value', schema)]);
  assert.equal(again, id);
  // POSTs only: on a busy machine the previous test's timed-out GET can reach the server late.
  const posts = () => seen.filter((r) => r.method === 'POST');
  assert.deepEqual(posts(), [
    {
      method: 'POST',
      path: '/subjects/behavior%20events-value/versions',
      contentType: 'application/vnd.schemaregistry.v1+json',
      body: JSON.stringify({ schema: JSON.stringify(schema) }),
    },
  ]);
  assert.equal(await client.register('behavior events-value', schema), id);
  assert.equal(client.cachedSchemaById(id)?.name, 'tributary.Event');
  assert.equal(posts().length, 1);
  // Another subject is another request (and, on this registry, the same schema text gets a new id).
  const other = await client.register('other-value', schema);
  assert.equal(posts().length, 2);
  assert.equal(posts()[1]?.path, '/subjects/other-value/versions');
  assert.equal(typeof other, 'number');
});

test('register of an incompatible schema rejects with 409 and the registry message, then retries', async () => {
  seen.length = 0;
  const client = new SchemaRegistryClient(url);
  const expected = {
    name: 'SchemaRegistryError',
    status: 409,
    errorCode: 409,
    message: `schema registry POST ${url}/subjects/incompatible-value/versions: HTTP 409 Conflict (error_code 409: Schema being registered is incompatible with an earlier schema)`,
  };
  await assert.rejects(client.register('incompatible-value', { type: 'string' }), expected);
  await assert.rejects(client.register('incompatible-value', { type: 'string' }), expected);
  assert.equal(seen.length, 2);
});

test('a custom fetch is used', async () => {
  const calls: string[] = [];
  const client = new SchemaRegistryClient('http://registry.invalid', {
    fetch: (async (input: string | URL | Request) => {
      calls.push(String(input));
      return new Response(JSON.stringify({ schema: '"string"' }), { status: 200 });
    }) as typeof fetch,
  });
  assert.equal((await client.schemaById(3)).typeName, 'string');
  assert.deepEqual(calls, ['http://registry.invalid/schemas/ids/3']);
});
