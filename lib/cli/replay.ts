/**
 * `tributary replay <pipeline> --from <time> [--to <time>] --out-dir <dir>`: re-runs a time range
 * of the pipeline's Kafka source into fresh output files, without touching the live
 * application: no consumer group (each partition is read directly), no state of its own kept
 * (a private state dir, final at the end of the range), nothing written to Kafka.
 *
 * How: the range's offsets per partition (the first record at or after `--from`, up to the first
 * at or after `--to`, else the end offsets now), each partition read in offset order, merged by
 * event time (so the replay's watermark advances as the live tasks' did), written as
 * NDJSON to a scratch file and run embedded with `final` (every session, window and timer of the
 * range closes at its end). `--from`/`--to` are the records' Kafka timestamps (when they were
 * produced, unless the producer set them); the merge is by event time. JSON sources only: their
 * records are replayed byte for byte, so a malformed one dead-letters as it did live.
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createNormalizer, type Normalizer } from '../event/normalize.js';
import type { ConsumedRecord, KafkaAdapter } from '../runtime/kafka/client.js';
import { formatSummary, runEmbedded } from '../runtime/embedded.js';
import type { SecurityFlags } from './kafka-connection.js';
import { BAD_ARGUMENTS, connectionOf, runTool, toolAdapter, ToolError, type ToolContext } from './kafka-tools.js';
import type { CliIo } from './program.js';

/** Where each partition's range starts and ends (`upTo` inclusive; empty when `upTo` < `from`). */
export interface PartitionRange {
  partition: number;
  from: bigint;
  upTo: bigint;
}

/** The ranges from the offsets at `--from`, the offsets at `--to` (or the end offsets) and the partitions' low watermarks (pure). */
export function rangesOf(starts: Map<number, bigint>, ends: Map<number, bigint>, lows: Map<number, bigint>): PartitionRange[] {
  return [...ends.keys()].sort((a, b) => a - b).map((partition) => {
    const low = lows.get(partition) ?? 0n;
    const start = starts.get(partition) ?? low;
    return { partition, from: start > low ? start : low, upTo: (ends.get(partition) ?? 0n) - 1n };
  });
}

/**
 * Merges partition streams, each in offset order, by `timeOf` of their next record (ties: the
 * lower partition first): with event time, the merged stream is as ordered as the partitions
 * are, so the replay's single watermark sees no more lateness than the live tasks did.
 */
export async function* mergeBy(streams: Array<AsyncIterable<ConsumedRecord>>, timeOf: (r: ConsumedRecord) => number): AsyncGenerator<ConsumedRecord> {
  const its = streams.map((s) => s[Symbol.asyncIterator]());
  const heads: Array<{ r: ConsumedRecord; t: number } | undefined> = await Promise.all(its.map(async (it) => {
    const n = await it.next();
    return n.done ? undefined : { r: n.value, t: timeOf(n.value) };
  }));
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h !== undefined && (best < 0 || h.t < (heads[best] as { t: number }).t)) best = i;
    }
    if (best < 0) return;
    yield (heads[best] as { r: ConsumedRecord }).r;
    const next = await (its[best] as AsyncIterator<ConsumedRecord>).next();
    heads[best] = next.done ? undefined : { r: next.value, t: timeOf(next.value) };
  }
}

/** A record's event time through the pipeline's mapping; -∞ for one that does not decode (it goes first, to dead-letter). */
export function eventTimeOf(normalize: Normalizer): (r: ConsumedRecord) => number {
  return (r) => {
    try {
      const n = normalize(JSON.parse(r.value?.toString('utf8') ?? 'null'));
      return n.ok ? n.event.timestamp : -Infinity;
    } catch {
      return -Infinity;
    }
  };
}

const time = (flag: string) => (v: string) => {
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new Error(`${flag} must be an ISO date-time such as 2026-01-05T00:00:00Z, got "${v}"`);
  return t;
};

async function offsetsAt(adapter: KafkaAdapter, topic: string, at: number | undefined): Promise<Map<number, bigint>> {
  const admin = await adapter.admin();
  try {
    if (at === undefined) return new Map((await admin.endOffsets(topic)).map((w) => [w.partition, BigInt(w.high)]));
    return new Map((await admin.offsetsForTime(topic, at)).map((o) => [o.partition, BigInt(o.offset)]));
  } finally {
    await admin.disconnect();
  }
}

async function lowWatermarks(adapter: KafkaAdapter, topic: string): Promise<{ lows: Map<number, bigint>; highs: Map<number, bigint> }> {
  const admin = await adapter.admin();
  try {
    const ws = await admin.endOffsets(topic);
    return { lows: new Map(ws.map((w) => [w.partition, BigInt(w.low)])), highs: new Map(ws.map((w) => [w.partition, BigInt(w.high)])) };
  } finally {
    await admin.disconnect();
  }
}

interface ReplayOptions extends SecurityFlags {
  from: number;
  to?: number;
  outDir: string;
  brokers?: string;
  quiet?: boolean;
}

/** Adds `replay` to the program. */
export function registerReplay(program: Command, io: CliIo, ctx: ToolContext): void {
  program
    .command('replay')
    .description('re-run a time range of the pipeline\'s Kafka source into fresh output files (embedded), without touching the live application: no consumer group, no state kept, nothing written to Kafka')
    .argument('<pipeline>', 'pipeline definition (.yaml, .yml or .json)')
    .requiredOption('--from <time>', 'first record: the first one at or after this ISO time in each partition', time('--from'))
    .option('--to <time>', 'end (exclusive): the first record at or after this ISO time (default: the end of each partition now)', time('--to'))
    .requiredOption('-o, --out-dir <dir>', 'directory for the output streams (<stream>.ndjson)')
    .option('-b, --brokers <host:port,...>', 'bootstrap brokers (default KAFKA_BROKERS, then kafka.brokers of the definition, then 127.0.0.1:9092)')
    .option('-q, --quiet', 'no progress lines')
    .addHelpText('after', '\nExample:\n  tributary replay examples/cart-abandonment/pipeline.yaml --from 2026-01-05T00:00:00Z --to 2026-01-06T00:00:00Z --out-dir out/replay-jan5\n')
    .action(async (file: string, opts: ReplayOptions) => {
      const topology = ctx.load(file);
      const topic = topology.source.topic;
      if (!topic || topology.source.format !== 'json') {
        io.stderr(`error: ${file}: replay needs a Kafka source topic with format json (source.topic, source.format)\n`);
        throw ctx.exit(BAD_ARGUMENTS);
      }
      if (opts.to !== undefined && opts.to <= opts.from) {
        io.stderr('error: --to must be after --from\n');
        throw ctx.exit(BAD_ARGUMENTS);
      }
      const conn = connectionOf(io, ctx, opts, topology, file);
      const adapter = toolAdapter(conn);
      const scratch = mkdtempSync(join(tmpdir(), 'tributary-replay-'));
      try {
        await runTool(io, ctx, conn, async () => {
          const { lows } = await lowWatermarks(adapter, topic).catch((e: unknown) => {
            throw /does not host|UNKNOWN_TOPIC|not exist/i.test(String(e)) ? new ToolError(`source topic ${topic} does not exist`) : e;
          });
          const ranges = rangesOf(await offsetsAt(adapter, topic, opts.from), await offsetsAt(adapter, topic, opts.to), lows).filter((r) => r.upTo >= r.from);
          const input = join(scratch, 'range.ndjson');
          const out = createWriteStream(input);
          let n = 0;
          const streams = ranges.map((r) => adapter.readPartition(topic, r.partition, { from: r.from.toString(), upTo: r.upTo.toString(), readCommitted: true }));
          for await (const record of mergeBy(streams, eventTimeOf(createNormalizer(topology.source.mapping)))) {
            const line = (record.value?.toString('utf8') ?? '').replace(/\r?\n/g, ' ');
            if (!out.write(`${line}\n`)) await new Promise<void>((ok) => out.once('drain', () => ok()));
            n++;
          }
          await new Promise<void>((ok, ko) => out.end((e?: Error | null) => (e ? ko(e) : ok())));
          if (!opts.quiet) io.stderr(`replay: ${n} records of ${topic} (${ranges.map((r) => `p${r.partition} ${r.from}..${r.upTo}`).join(', ') || 'nothing in range'})\n`);
          const summary = await runEmbedded({ topology, input, format: 'json', outDir: opts.outDir, stateDir: join(scratch, 'state'), final: true });
          io.stdout(formatSummary({ ...summary, input: `${topic} ${new Date(opts.from).toISOString()}..${opts.to === undefined ? 'end' : new Date(opts.to).toISOString()}` }) + '\n');
        });
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    });
}
