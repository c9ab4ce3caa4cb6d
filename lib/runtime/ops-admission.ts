/**
 * The operations endpoint's own budget: at most {@link MAX_REQUESTS_IN_FLIGHT} requests are
 * served at once (from the request's arrival until its response is written or the client went
 * away); one more is answered `503` with `Retry-After` at once, without reading any state, so
 * a flood of queries neither piles up behind the run nor holds the run up.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Requests served at once by one handler; beyond, `503`. */
export const MAX_REQUESTS_IN_FLIGHT = 64;
/** Seconds a refused client is asked to wait (`Retry-After`). */
export const RETRY_AFTER_SECONDS = 1;

/** The refusal of a request over the budget, as the body says it. */
export const BUSY = `busy: ${MAX_REQUESTS_IN_FLIGHT} requests are being answered; retry after ${RETRY_AFTER_SECONDS} s`;

/** Whether one more request may be served: pure, for the counter below. */
export function admits(inFlight: number, max = MAX_REQUESTS_IN_FLIGHT): boolean {
  return inFlight < max;
}

/**
 * Wraps `handle` with the budget: over it, `503` with `Retry-After` (JSON for `/state/…`, text
 * for the rest, as those endpoints answer).
 *
 * @example
 * ```ts
 * http.createServer(withBudget((req, res) => res.end('ok'))).listen(9464);
 * ```
 */
export function withBudget(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
  max = MAX_REQUESTS_IN_FLIGHT,
): (req: IncomingMessage, res: ServerResponse) => void {
  let inFlight = 0;
  return (req, res) => {
    if (!admits(inFlight, max)) {
      const json = (req.url ?? '').startsWith('/state/');
      const body = json ? JSON.stringify({ error: BUSY }) : `${BUSY}\n`;
      res.writeHead(503, {
        'retry-after': String(RETRY_AFTER_SECONDS),
        'content-type': json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      }).end(body);
      return;
    }
    inFlight++;
    res.once('close', () => inFlight--);
    handle(req, res);
  };
}
