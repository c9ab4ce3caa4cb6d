// A real Prometheus server for a test: it scrapes the given targets every second and answers
// PromQL through its HTTP API. The binary is PROMETHEUS_BIN, else `prometheus` on PATH (Debian's
// `prometheus` package, which .ci/run installs).
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The Prometheus binary: PROMETHEUS_BIN, else `prometheus` on PATH, else undefined. */
export function prometheusBinary(): string | undefined {
  if (process.env.PROMETHEUS_BIN) return process.env.PROMETHEUS_BIN;
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'prometheus');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

const MISSING = 'no Prometheus: set PROMETHEUS_BIN or install it (Debian: apt-get install prometheus, as .ci/run does)';

/**
 * Whether a Prometheus test skips: `false` when the binary is there, or when REQUIRE_KAFKA=1
 * (CI), where {@link startPrometheus} then fails with the reason instead of skipping; else
 * the reason (the policy of the Kafka tests' `skipReason`).
 * @example
 *   test('scraped', { skip: kafkaBrokers() ? prometheusSkipReason() : skipReason() }, async () => {});
 */
export function prometheusSkipReason(): string | false {
  if (prometheusBinary() !== undefined || process.env.REQUIRE_KAFKA === '1') return false;
  return MISSING;
}

/**
 * The Prometheus binary, or an error saying how to get one: a test calls it first, so that under
 * REQUIRE_KAFKA=1 a missing binary fails at once rather than after the test's setup.
 */
export function requirePrometheus(): string {
  const bin = prometheusBinary();
  if (bin === undefined) throw new Error(`${MISSING}; REQUIRE_KAFKA=1 does not skip this test`);
  return bin;
}

/** One sample of an instant query's result vector. */
export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface Prometheus {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** An instant query (`/api/v1/query`): the result vector (a scalar result is one sample without labels). */
  query(promql: string): Promise<Sample[]>;
  /** Polls {@link query} until `predicate` holds; fails after `timeoutMs` with the last result. */
  waitFor(promql: string, predicate: (result: Sample[]) => boolean, timeoutMs?: number): Promise<Sample[]>;
  /** SIGTERM, waits for the exit (SIGKILL after 10 s), removes the data directory. */
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** `host:port` targets of the one scrape job. */
  targets: string[];
  /** Job name (the `job` label). Default `tributary`. */
  job?: string;
  /** Default `1s`. */
  scrapeInterval?: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

interface QueryResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: unknown };
}

/**
 * Starts Prometheus on a free port of 127.0.0.1 with a fresh TSDB in a temporary directory,
 * scraping `targets` every second, and waits for `/-/ready`.
 * @example
 *   const prom = await startPrometheus({ targets: [`127.0.0.1:${port}`] });
 *   t.after(() => prom.stop());
 *   await prom.waitFor('up', (r) => r[0]?.value === 1, 10_000);
 */
export async function startPrometheus(options: PrometheusOptions): Promise<Prometheus> {
  const bin = requirePrometheus();
  const dir = mkdtempSync(join(tmpdir(), 'tributary-prometheus-'));
  const interval = options.scrapeInterval ?? '1s';
  writeFileSync(join(dir, 'prometheus.yml'), [
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'scrape_configs:',
    `  - job_name: ${JSON.stringify(options.job ?? 'tributary')}`,
    `    scrape_interval: ${interval}`,
    `    scrape_timeout: ${interval}`,
    '    static_configs:',
    `      - targets: ${JSON.stringify(options.targets)}`,
    '',
  ].join('\n'));

  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let output = '';
    const child: ChildProcess = spawn(bin, [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', (e) => {
      output += `\n${e.message}`;
    });

    const deadline = Date.now() + 30_000;
    let ready = false;
    while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
      try {
        const res = await fetch(`${url}/-/ready`);
        if (res.ok) {
          ready = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    if (ready) return handle(url, child, exited, dir);
    child.kill('SIGKILL');
    await exited;
    lastError = `prometheus on port ${port} did not become ready (exit ${child.exitCode ?? child.signalCode ?? 'none, killed after 30 s'}):\n${output}`;
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(lastError);
}

function handle(url: string, child: ChildProcess, exited: Promise<void>, dir: string): Prometheus {
  const query = async (promql: string): Promise<Sample[]> => {
    const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql }).toString()}`);
    const body = await res.json() as QueryResponse;
    if (body.status !== 'success' || !body.data) throw new Error(`query ${promql}: ${res.status} ${body.error ?? JSON.stringify(body)}`);
    const { resultType, result } = body.data;
    if (resultType === 'scalar') return [{ metric: {}, value: Number((result as [number, string])[1]) }];
    if (resultType !== 'vector') throw new Error(`query ${promql}: a ${resultType}, not an instant vector`);
    return (result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
  };
  return {
    url,
    query,
    async waitFor(promql, predicate, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const result = await query(promql);
        if (predicate(result)) return result;
        if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${promql}: last result ${JSON.stringify(result)}`);
        await sleep(250);
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
