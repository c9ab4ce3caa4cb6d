// A dedicated Maven KRaft broker for a test that stops and restarts it (so the shared broker of
// scripts/test.mjs is never touched). First start: scripts/kafka-broker.mjs's startBroker() on a
// data dir of its own; restarts: the same JVM command on the server.properties and data that
// startBroker() wrote (same ports, same cluster id: no new format).
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from './cli.js';

interface BrokerScript {
  LIB_DIR: string;
  startBroker(options: { dataDir?: string; warmUp?: boolean; log?: (line: string) => void }): Promise<{ brokers: string; pid: number; dataDir: string; stop(): Promise<void> }>;
  stopPid(pid: number, timeoutMs?: number): Promise<void>;
  isAlive(pid: number): boolean;
}

const READY_LINE = 'Kafka Server started';

export interface OwnBroker {
  /** Bootstrap list, e.g. `127.0.0.1:41234` (the same across restarts). */
  brokers: string;
  dataDir: string;
  /** Stops the broker (SIGTERM, clean shutdown), keeping its data. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it is ready. */
  restart(): Promise<void>;
  /** Stops it if running and removes its data (for `after` hooks; never throws). */
  close(): Promise<void>;
}

/**
 * Starts a broker of the test's own.
 * @example
 *   const broker = await startOwnBroker();
 *   after(() => broker.close());
 *   await broker.stop(); await broker.restart();
 */
export async function startOwnBroker(log: (line: string) => void = () => undefined): Promise<OwnBroker> {
  // A variable specifier: the script is plain JS outside tsc's program.
  const script = new URL('../../../scripts/kafka-broker.mjs', import.meta.url).href;
  const k = (await import(script)) as BrokerScript;
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-own-kafka-'));
  let first;
  try {
    first = await k.startBroker({ dataDir, log });
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  let pid: number | undefined = first.pid;
  const logFile = join(dataDir, 'broker.log');
  const kafkaDir = join(ROOT, 'tools', 'kafka');
  const jvm = [
    '-Xms64m', '-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-XX:-UsePerfData', '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true', `-Dlog4j.configuration=file:${join(kafkaDir, 'log4j.properties')}`, '-cp', join(k.LIB_DIR, '*'),
  ];
  const stop = async () => {
    if (pid !== undefined) await k.stopPid(pid);
    pid = undefined;
  };
  return {
    brokers: first.brokers,
    dataDir,
    stop,
    async restart() {
      if (pid !== undefined) throw new Error('the broker is running');
      const from = statSync(logFile).size;
      const fd = openSync(logFile, 'a');
      const child = spawn('java', [...jvm, 'kafka.Kafka', join(dataDir, 'server.properties')], { stdio: ['ignore', fd, fd] });
      closeSync(fd);
      pid = child.pid;
      let exited: string | undefined;
      child.once('exit', (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));
      const deadline = Date.now() + 120_000;
      for (;;) {
        const text = readFileSync(logFile, 'utf8').slice(from);
        if (text.includes(READY_LINE)) break;
        if (exited !== undefined) {
          pid = undefined;
          throw new Error(`the restarted broker ${exited}:\n${text.split('\n').slice(-30).join('\n')}`);
        }
        if (Date.now() > deadline) throw new Error('the restarted broker was not ready after 120 s');
        await sleep(50);
      }
      log(`kafka: own broker restarted at ${first.brokers} (pid ${pid})`);
    },
    async close() {
      await stop().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
