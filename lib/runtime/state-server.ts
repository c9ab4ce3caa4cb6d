/**
 * A tiny HTTP endpoint over a running pipeline's state (the current values per key
 * are readable while the pipeline runs, the way a model reads a feature store at request time).
 *
 * `GET /state/<step>/<key>` → `200` with the JSON the `read` callback returns, `404` when it
 * returns `undefined` (unknown step or key), `405` for other methods, `400` for a malformed
 * path. `<step>` and `<key>` are URL-decoded (`/state/features/user%2F1` reads key `user/1`).
 * `lib` does not know the operators: the caller's `read` does the lookup (for
 * `windowAggregate`, with `windowAggregateQuery` over the step's stores).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Thrown by a `read` callback for a key it cannot answer here, with the reason (`404` with the
 * message): e.g. in Kafka mode, a key of a partition another instance owns.
 */
export class StateNotFound extends Error {
  override readonly name = 'StateNotFound';
}

/** What the server reads. */
export interface StateServerOptions {
  /** The current state of `key` in `step`, as JSON data; `undefined` when there is none. Called synchronously per request. */
  read(step: string, key: string): unknown;
}

/** A started or startable state server. */
export interface StateServer {
  readonly server: Server;
  /** Listens on `port` (0: any free port) at `host` (default 127.0.0.1); resolves with the port. */
  listen(port?: number, host?: string): Promise<number>;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The request handler of `/state/<step>/<key>` over `read` (the operations server mounts it too). */
export function stateHandler(read: StateServerOptions['read']): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => handle(read, req, res);
}

function handle(read: StateServerOptions['read'], req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, { error: `${req.method ?? ''} not allowed (use GET /state/<step>/<key>)` });
    return;
  }
  const path = (req.url ?? '/').split('?')[0] as string;
  const parts = path.split('/');
  if (parts.length !== 4 || parts[1] !== 'state' || !parts[2] || !parts[3]) {
    send(res, 404, { error: `no such resource ${path} (use GET /state/<step>/<key>)` });
    return;
  }
  let step: string;
  let key: string;
  try {
    step = decodeURIComponent(parts[2]);
    key = decodeURIComponent(parts[3]);
  } catch {
    send(res, 400, { error: `malformed URL encoding in ${path}` });
    return;
  }
  let value: unknown;
  try {
    value = read(step, key);
  } catch (e) {
    send(res, e instanceof StateNotFound ? 404 : 500, { error: (e as Error).message });
    return;
  }
  if (value === undefined) send(res, 404, { error: `no state for key ${JSON.stringify(key)} in step ${JSON.stringify(step)}` });
  else send(res, 200, value);
}

/**
 * Creates the state server (not yet listening).
 *
 * @example
 * ```ts
 * const config = windowAggregateOperator.resolve(options);
 * const stores = { windows: driver.store('features', 'windows'), entries: driver.store('features', 'entries') };
 * const states = createStateServer({ read: (step, key) => (step === 'features' ? windowAggregateQuery(config, stores, key) : undefined) });
 * const port = await states.listen(0);
 * await fetch(`http://127.0.0.1:${port}/state/features/u1`); // 200 { windowStart, windowEnd, values }
 * await states.close();
 * ```
 */
export function createStateServer(options: StateServerOptions): StateServer {
  const server = createServer((req, res) => handle(options.read, req, res));
  return {
    server,
    listen: (port = 0, host = '127.0.0.1') =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
