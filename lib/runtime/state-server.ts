/**
 * A tiny HTTP endpoint over a running pipeline's state (the current values per key
 * are readable while the pipeline runs, the way a model reads a feature store at request time).
 *
 * `GET /state/<step>/<key>` → `200` with the JSON the `read` callback returns, `404` when it
 * returns `undefined` (unknown step or key), `405` for other methods, `400` for a key that no
 * state can have (malformed percent-encoding, a control character such as `%00`, longer than
 * {@link MAX_STATE_KEY_BYTES}), `500` when `read` fails (the body says only that; the error goes
 * to the log), `503` beyond the request budget (see `ops-admission.ts`). `<step>` and `<key>`
 * are URL-decoded (`/state/features/user%2F1` reads key `user/1`).
 * `lib` does not know the operators: the caller's `read` does the lookup (for
 * `windowAggregate`, with `windowAggregateQuery` over the step's stores).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { withBudget } from './ops-admission.js';

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
  /** Where a failed read's error goes (one line); default stderr. */
  log?: (line: string) => void;
}

/** The longest key a request may name, in UTF-8 bytes (state keys are identifiers). */
export const MAX_STATE_KEY_BYTES = 512;

/** What a request path asks for: a step and key, or the refusal. */
export type StateRequest = { step: string; key: string } | { status: 400 | 404; error: string };

/** Whether `text` holds a control character (U+0000–U+001F, U+007F). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/**
 * Decides what `GET <path>` asks for, before anything is read.
 *
 * @example
 * ```ts
 * parseStatePath('/state/features/u%2F1'); // { step: 'features', key: 'u/1' }
 * parseStatePath('/state/features/a%00');  // { status: 400, error: 'the key contains a control character (…)' }
 * ```
 */
export function parseStatePath(path: string): StateRequest {
  const parts = path.split('/');
  if (parts.length !== 4 || parts[1] !== 'state' || !parts[2] || !parts[3]) {
    return { status: 404, error: `no such resource ${path.length > 100 ? `${path.slice(0, 100)}…` : path} (use GET /state/<step>/<key>)` };
  }
  let step: string;
  let key: string;
  try {
    step = decodeURIComponent(parts[2]);
    key = decodeURIComponent(parts[3]);
  } catch {
    return { status: 400, error: 'malformed percent-encoding in the step or key (encode them with encodeURIComponent)' };
  }
  if (hasControl(step) || hasControl(key)) return { status: 400, error: 'the key contains a control character (such as %00); state keys are printable text' };
  const bytes = Buffer.byteLength(key);
  if (bytes > MAX_STATE_KEY_BYTES) return { status: 400, error: `the key is ${bytes} bytes, longer than any state key (at most ${MAX_STATE_KEY_BYTES})` };
  return { step, key };
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
export function stateHandler(read: StateServerOptions['read'], log?: StateServerOptions['log']): (req: IncomingMessage, res: ServerResponse) => void {
  const logLine = log ?? ((line: string) => process.stderr.write(`${line}\n`));
  return (req, res) => handle(read, logLine, req, res);
}

function handle(read: StateServerOptions['read'], log: (line: string) => void, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, { error: `${String(req.method).slice(0, 20)} not allowed (use GET /state/<step>/<key>)` });
    return;
  }
  const asked = parseStatePath((req.url ?? '/').split('?')[0] as string);
  if ('status' in asked) {
    send(res, asked.status, { error: asked.error });
    return;
  }
  const { step, key } = asked;
  let value: unknown;
  try {
    value = read(step, key);
  } catch (e) {
    if (e instanceof StateNotFound) {
      send(res, 404, { error: e.message });
      return;
    }
    log(`state endpoint: reading key ${JSON.stringify(key)} in step ${JSON.stringify(step)} failed: ${(e as Error).message}`);
    send(res, 500, { error: 'reading the state failed; the error is in the run\'s log' });
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
  const server = createServer(withBudget(stateHandler(options.read, options.log)));
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
