/**
 * The input-and-output floor of a pipeline: what any implementation with the same input and the
 * same outputs pays however it keeps its state — read and parse every input line, write every
 * output record as a JSON line and fsync the files, and one SHA-256 record id per derived record
 * (the ids are part of the output contract). A case of `tributary bench` and of the embedded
 * benchmark (`node --expose-gc dist/benchmarks/embedded.bench.js --cases floor`).
 *
 * The pipeline is run once first, untimed, to know its outputs; they are read into memory (also
 * untimed), then the timed part does only the work above. So `pipeline figure − floor` is what
 * the steps, their state and the checkpoints cost.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OperatorRegistry } from '../operator/contract.js';
import { deriveId } from '../operator/ids.js';
import { compilePipeline } from '../pipeline/compile.js';
import { parsePipeline } from '../pipeline/load.js';
import { runEmbedded } from '../runtime/embedded.js';
import type { BenchRunResult } from './child.js';

/** Streams whose records are the events themselves (no derived id). */
const EVENT_STREAMS = new Set(['events', 'late', 'dead-letter', 'duplicates']);

/** Writes records as JSON lines through one 1 MiB buffer, the way the embedded runner's file outputs do. */
function writeLines(path: string, records: readonly unknown[], buffer: Buffer): void {
  const fd = openSync(path, 'w');
  let used = 0;
  for (const r of records) {
    const text = JSON.stringify(r);
    if (buffer.length - used < text.length * 3 + 1) {
      writeSync(fd, buffer, 0, used);
      used = 0;
    }
    used += buffer.write(text, used);
    buffer[used++] = 10;
  }
  writeSync(fd, buffer, 0, used);
  fsyncSync(fd);
  closeSync(fd);
}

/** The input-and-output floor of the pipeline `text` (named `file` in messages) over `input` (see the module notes). */
export async function pipelineFloor(text: string, file: string, input: string, operators: OperatorRegistry): Promise<BenchRunResult> {
  const topology = compilePipeline(parsePipeline(text, file, operators), operators);
  const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-floor-'));
  try {
    const runDir = join(dir, 'run');
    const summary = await runEmbedded({ topology, input, outDir: runDir });
    const outputs = readdirSync(runDir)
      .filter((f) => f.endsWith('.ndjson'))
      .map((f) => ({ stream: f.slice(0, -'.ndjson'.length), records: readFileSync(join(runDir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown) }));
    const buffer = Buffer.allocUnsafeSlow(1 << 20);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    // Input: the file read in 1 MiB pieces and each line parsed.
    const fd = openSync(input, 'r');
    const decoder = new TextDecoder();
    let carry = '';
    let events = 0;
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      const text = carry + decoder.decode(buffer.subarray(0, n), { stream: true });
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        if (nl > start) {
          JSON.parse(text.slice(start, nl));
          events++;
        }
        start = nl + 1;
      }
      carry = text.slice(start);
    }
    closeSync(fd);
    // One id per derived record, the outputs written and fsynced.
    for (const { stream, records } of outputs) {
      if (!EVENT_STREAMS.has(stream)) for (let i = 0; i < records.length; i++) deriveId(stream, 'step', `p-${i}`, 1_767_339_000_000, 'final');
      writeLines(join(dir, `out-${stream}.ndjson`), records, buffer);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    if (events !== summary.records) throw new Error(`floor: read ${events} records, the run read ${summary.records}`);
    return { events, seconds, cpu: cpu.user + cpu.system, peakRss: process.resourceUsage().maxRSS * 1024, heap: process.memoryUsage().heapUsed, counts: summary.streams };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
