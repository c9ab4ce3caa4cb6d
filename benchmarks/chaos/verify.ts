/**
 * The end of a chaos run: stop producing, run the pipeline to the end of its input (a bounded,
 * final CLI run on the surviving state), run the embedded runtime over exactly the events the
 * broker acknowledged (in send order), and count per stream what was lost, duplicated or foreign.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import type { KafkaAdapter } from '../../lib/runtime/kafka/client.js';
import { compareTopology, readEmbedded, type StreamCount } from './compare.js';
import type { ChaosPipeline } from './pipeline.js';
import { BIN, ROOT } from './runner.js';

export interface FinalRun { code: number | null; seconds: number; stdout: string; stderr: string }

/** `tributary run <p> --bounded --final` on `stateDir`, bounded in time (`timeoutMs`). */
export function runToEnd(p: ChaosPipeline, brokers: string, stateDir: string, timeoutMs = 600_000): FinalRun {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, 'run', p.file, '--brokers', brokers, '--state-dir', stateDir, '--bounded', '--final', '--quiet', '--session-timeout', '6000'], {
    cwd: ROOT, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20,
  });
  return { code: r.status, seconds: (performance.now() - t0) / 1000, stdout: r.stdout.trim().slice(-2000), stderr: r.stderr.trim().slice(-2000) };
}

export interface Verdict {
  streams: StreamCount[];
  lost: number;
  duplicated: number;
  foreign: number;
  /** Streams whose records equal the embedded run's, as multisets. */
  exactStreams: string[];
}

/** The embedded run over `events` (NDJSON, send order) and each stream in Kafka against it. */
export async function verifyAgainstEmbedded(adapter: KafkaAdapter, p: ChaosPipeline, events: string, dir: string): Promise<Verdict> {
  const out = join(dir, `embedded-${p.suffix}`);
  await runEmbedded({ topology: p.topology, input: events, outDir: out, format: 'json' });
  const streams = await compareTopology(adapter, p.topology, (s) => readEmbedded(out, s.name));
  return {
    streams,
    lost: streams.reduce((a, s) => a + s.lost, 0),
    duplicated: streams.reduce((a, s) => a + s.duplicated, 0),
    foreign: streams.reduce((a, s) => a + s.foreign, 0),
    exactStreams: streams.filter((s) => s.exact).map((s) => s.stream),
  };
}
