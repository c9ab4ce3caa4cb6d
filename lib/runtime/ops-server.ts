/**
 * The operations endpoint of a running pipeline, one HTTP handler for:
 *
 * - `GET /metrics`: the run's metrics in the Prometheus text format, with prom-client's default
 *   process and Node.js metrics (`process_cpu_seconds_total`, `nodejs_heap_size_used_bytes`, …).
 * - `GET /healthz`: `200` while the runtime's loop makes progress, `503` when it has not
 *   reported for `stallMs` (see {@link Liveness}). A process whose event loop is blocked does
 *   not answer at all, which a probe counts as a failure too.
 * - `GET /readyz`: `200` when the run is ready (Kafka: every assigned task restored and
 *   processing; embedded: running), else `503` with what it waits for.
 * - `GET /state/<step>/<key>`: a key's current state in a step (see `state-server.ts`).
 *
 * {@link opsHandler} is exported for services that embed the operators and have their own
 * HTTP server; {@link createOpsServer} listens on a port of its own.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { withBudget } from './ops-admission.js';
import { stateHandler, type StateServerOptions } from './state-server.js';

/** A probe's answer. */
export interface Probe {
  ok: boolean;
  /** One line: why (shown in the response body). */
  detail: string;
}

export interface OpsOptions {
  /** The registry `/metrics` serves (prom-client's default metrics are added to it once). */
  registry: Registry;
  /** Readiness (`/readyz`). Default: always ready. */
  ready?: () => Probe;
  /** Liveness (`/healthz`). Default: alive whenever the process answers. */
  health?: () => Probe;
  /** The state reader behind `/state/<step>/<key>`; without it `/state` is 404. */
  read?: StateServerOptions['read'];
  /** Called before each scrape (e.g. to set gauges computed on demand). */
  onScrape?: () => void;
  /** Where an endpoint's internal error goes (one line; never in a response body); default stderr. */
  log?: (line: string) => void;
}

/**
 * Liveness from progress reports: the runtime calls {@link beat} whenever its loop moves (a
 * batch processed, a tick done, input awaited); {@link probe} is unhealthy when the last beat is
 * older than `stallMs`. A commit that never returns or a lock never released stops the beats.
 *
 * @example
 * ```ts
 * const alive = new Liveness(60_000);
 * alive.beat();
 * alive.probe(); // { ok: true, detail: 'last progress 0.0 s ago (event loop delay p99 1.2 ms)' }
 * ```
 */
export class Liveness {
  private last = performance.now();
  private readonly delay = monitorEventLoopDelay({ resolution: 20 });

  constructor(readonly stallMs = 60_000) {
    this.delay.enable();
  }

  beat(): void {
    this.last = performance.now();
  }

  probe(now = performance.now()): Probe {
    return livenessOf(now - this.last, this.stallMs, this.delay.percentile(99) / 1e6);
  }

  stop(): void {
    this.delay.disable();
  }
}

/** The liveness decision: healthy while the last progress is at most `stallMs` old. */
export function livenessOf(sinceMs: number, stallMs: number, loopDelayP99Ms: number): Probe {
  const detail = `last progress ${(sinceMs / 1000).toFixed(1)} s ago (event loop delay p99 ${loopDelayP99Ms.toFixed(1)} ms)`;
  return sinceMs <= stallMs ? { ok: true, detail } : { ok: false, detail: `stalled: ${detail}, more than ${stallMs / 1000} s` };
}

const withDefaults = new WeakSet<Registry>();

/**
 * The handler for `/metrics`, `/healthz`, `/readyz` and `/state/…`; anything else is 404. At
 * most 64 requests are answered at once; more get `503` with `Retry-After` (see `ops-admission.ts`).
 *
 * @example
 * ```ts
 * const handle = opsHandler({ registry });
 * http.createServer((req, res) => handle(req, res)).listen(9464);
 * ```
 */
export function opsHandler(options: OpsOptions): (req: IncomingMessage, res: ServerResponse) => void {
  if (!withDefaults.has(options.registry)) {
    withDefaults.add(options.registry);
    collectDefaultMetrics({ register: options.registry });
  }
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const state = options.read ? stateHandler(options.read, log) : undefined;
  const scrapes = new ScrapeLimiter(() => options.registry.metrics());
  return withBudget((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    if (path.startsWith('/state/') && state) return state(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end(`${String(req.method).slice(0, 20)} not allowed\n`);
      return;
    }
    if (path === '/metrics') {
      options.onScrape?.();
      scrapes.next().then(
        (text) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
        (e: unknown) => {
          log(`operations endpoint: collecting /metrics failed: ${String(e)}`);
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('collecting the metrics failed; the error is in the run\'s log\n');
        },
      );
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const p = (path === '/healthz' ? options.health : options.ready)?.() ?? { ok: true, detail: 'up' };
      res.writeHead(p.ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' }).end(`${p.ok ? 'ok' : 'not ok'}: ${p.detail}\n`);
      return;
    }
    const shown = path.length > 100 ? `${path.slice(0, 100)}…` : path;
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`no such resource ${shown} (GET /metrics, /healthz, /readyz${state ? ', /state/<step>/<key>' : ''})\n`);
  });
}

/** Collections of /metrics a second, at most; more scrapes get the latest one. */
const COLLECTIONS_PER_SECOND = 10;

/**
 * Scrapes that come while a collection is under way share it, and past
 * {@link COLLECTIONS_PER_SECOND} in the last second a scrape gets the latest collection: a
 * flood of scrapes (200 clients in a loop stalled a run and its `/healthz` for 14 s) costs at
 * most ten collections a second, while a scraper every few seconds, or a script that scrapes
 * after each change, always gets a fresh one.
 */
class ScrapeLimiter {
  private running: Promise<string> | undefined;
  private latest: Promise<string> | undefined;
  /** Start times of the last collections (at most {@link COLLECTIONS_PER_SECOND}). */
  private readonly starts: number[] = [];

  constructor(private readonly collect: () => Promise<string>) {}

  next(): Promise<string> {
    if (this.running) return this.running;
    const now = performance.now();
    if (this.latest && this.starts.length === COLLECTIONS_PER_SECOND && now - (this.starts[0] as number) < 1000) return this.latest;
    if (this.starts.length === COLLECTIONS_PER_SECOND) this.starts.shift();
    this.starts.push(now);
    const running = this.collect();
    this.running = running;
    this.latest = running;
    const done = () => {
      if (this.running === running) this.running = undefined;
    };
    running.then(done, done);
    return running;
  }
}

/** An operations server listening on one or more ports. */
export interface OpsServer {
  /** Listens on `port` (0: any free port) at `host` (default 127.0.0.1); resolves with the port. */
  listen(port: number, host?: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * Creates the operations server (not yet listening); each `listen` adds a port with the same handler.
 *
 * @example
 * ```ts
 * const ops = createOpsServer({ registry, ready: () => ({ ok: true, detail: 'running' }) });
 * const port = await ops.listen(9464);
 * await fetch(`http://127.0.0.1:${port}/metrics`);
 * await ops.close();
 * ```
 */
export function createOpsServer(options: OpsOptions): OpsServer {
  const handle = opsHandler(options);
  const servers: Server[] = [];
  return {
    listen: (port, host = '127.0.0.1') =>
      new Promise<number>((resolve, reject) => {
        // A slow or stuck client holds a connection for at most this long (Node checks the two
        // timeouts every connectionsCheckingInterval: 30 s by default, so they are checked each second).
        const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000, connectionsCheckingInterval: 1_000 }, handle);
        server.once('error', (e: NodeJS.ErrnoException) =>
          reject(new Error(e.code === 'EADDRINUSE' ? `port ${port} on ${host} is in use: choose another (--metrics-port, --state-port)` : `cannot listen on ${host}:${port} (${e.message}): choose an address of this machine with --metrics-host (e.g. 127.0.0.1 or 0.0.0.0)`)));
        // A burst of connections waits in a long queue rather than being refused by the kernel.
        server.listen({ port, host, backlog: 1024 }, () => {
          servers.push(server);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    close: async () => {
      for (const server of servers.splice(0)) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}
