/**
 * Two Tributary operators embedded in a plain Node HTTP service: events are POSTed in,
 * `joinIdentity` resolves the person and `sessionize` the visit, and the response says, per
 * event, which person and session it belongs to. Closed sessions and identity merges are kept
 * and served too. No framework: `node:http`; the same chain drops into Express or Fastify.
 *
 *   npm run build && node dist/examples/embedded-service/service.js 8080 [state-dir]
 *   curl -XPOST localhost:8080/events -d '{"messageId":"m1","type":"track","event":"product_viewed","anonymousId":"a1","timestamp":"2026-01-01T10:00:00Z"}'
 *   # → [{"messageId":"m1","status":"ok","personId":"p-…","sessionId":"s-…"}]
 *   curl localhost:8080/sessions      # closed sessions (a session closes once later events move the watermark past end + gap)
 *   curl localhost:8080/merges        # identity merges and refusals
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Subject } from 'rxjs';
import type { TributaryEvent } from '../../lib/event/event.js';
import { createNormalizer } from '../../lib/event/normalize.js';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import { CachingStoreFactory } from '../../lib/state/caching.js';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import type { StoreFactory } from '../../lib/state/store.js';
import { joinIdentity } from '../../operators/join-identity.js';
import { sessionize } from '../../operators/sessionize.js';

/** What the service answers for one posted event. */
export type EventResult =
  | { messageId: string; status: 'ok'; personId: string; sessionId: string }
  | { messageId: string | null; status: 'rejected'; reason: string; detail: string }
  | { messageId: string; status: 'late'; watermark: number };

export interface BehaviorService {
  server: Server;
  /** Closed sessions so far. */
  sessions: DerivedRecord[];
  /** Identity merges and refusals so far. */
  merges: DerivedRecord[];
  close(): Promise<void>;
}

export interface BehaviorServiceOptions {
  /** LMDB state directory; default in memory. */
  stateDir?: string;
  gap?: string;
  allowedLateness?: string;
}

/**
 * Builds the service (not yet listening).
 *
 * @example
 * ```ts
 * const svc = createBehaviorService({ gap: '30m' });
 * svc.server.listen(8080);
 * ```
 */
export function createBehaviorService(options: BehaviorServiceOptions = {}): BehaviorService {
  // Decoded state in memory, encoded once per flush into LMDB (the runners assemble stores the same way).
  const stores: StoreFactory | undefined = options.stateDir ? new CachingStoreFactory(new LmdbStoreFactory({ path: options.stateDir })) : undefined;
  const normalize = createNormalizer();
  const sessions: DerivedRecord[] = [];
  const merges: DerivedRecord[] = [];
  const input = new Subject<TributaryEvent>();
  // Each event's fate is known synchronously: RxJS delivers within `next()`.
  let current: EventResult | undefined;
  const late = (r: DerivedRecord) => {
    current = { messageId: String(r.messageId), status: 'late', watermark: Number(r.watermark) };
  };
  const subscription = input
    .pipe(
      joinIdentity({ stores, allowedLateness: options.allowedLateness ?? '1m', outputs: { 'identity-merges': (m) => merges.push(m), late } }),
      sessionize({ key: 'personId', gap: options.gap ?? '30m', stores, output: 'sessions', outputs: { sessions: (s) => sessions.push(s), late } }),
    )
    .subscribe((e) => {
      current = { messageId: e.messageId, status: 'ok', personId: String(e.personId), sessionId: String(e.sessionId) };
    });

  const handle = (raw: unknown): EventResult => {
    const n = normalize(raw);
    if (!n.ok) {
      const id = (raw as { messageId?: unknown } | null)?.messageId;
      return { messageId: typeof id === 'string' ? id : null, status: 'rejected', reason: n.reason, detail: n.detail };
    }
    current = undefined;
    input.next(n.event);
    return current ?? { messageId: n.event.messageId, status: 'rejected', reason: 'missing-key', detail: 'no identifier (userId, anonymousId)' };
  };

  const server = createServer(async (req, res) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.method === 'POST' && req.url === '/events') {
        let body: unknown;
        try {
          body = JSON.parse(await readBody(req));
        } catch (e) {
          send(400, { error: `body is not JSON: ${(e as Error).message}` });
          return;
        }
        send(200, (Array.isArray(body) ? body : [body]).map(handle));
      } else if (req.method === 'GET' && req.url === '/sessions') send(200, sessions);
      else if (req.method === 'GET' && req.url === '/merges') send(200, merges);
      else send(404, { error: 'POST /events, GET /sessions, GET /merges' });
    } catch (e) {
      // An operator error (e.g. a store failure) ends the chain: answer 500 and say why.
      send(500, { error: (e as Error).message });
    }
  });

  return {
    server,
    sessions,
    merges,
    async close() {
      await new Promise<void>((ok) => server.close(() => ok()));
      subscription.unsubscribe();
      if (stores) {
        await stores.flush();
        await stores.close();
      }
    },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// Run directly: node dist/examples/embedded-service/service.js [port] [state-dir]
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'))) {
  const svc = createBehaviorService({ stateDir: process.argv[3] });
  svc.server.listen(Number(process.argv[2] ?? 8080), () => console.log(`listening on ${JSON.stringify(svc.server.address())}`));
  const stop = () => void svc.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
