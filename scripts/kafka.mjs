#!/usr/bin/env node
// `npm run kafka:start` / `npm run kafka:stop`: a local single-node Kafka (the Maven broker of
// tools/kafka) that outlives the command, for trying pipelines by hand. State, log and data live
// in .tributary/kafka/ (gitignored) and are removed by `stop`.
//
//   npm run -s kafka:start      # prints KAFKA_BROKERS=127.0.0.1:9092 (9092 unless busy or KAFKA_PORT)
//   npm run -s kafka:stop
//   node scripts/kafka.mjs status
//
// `--secure` (start, stop, status): a second broker, apart from the first, with a SASL_SSL client
// listener (self-signed certificate, SCRAM-SHA-512/256 and PLAIN user `tributary`) on 9094 in
// .tributary/kafka-secure/; start prints the KAFKA_* settings that reach it (secrets as files).
//
//   eval "$(node scripts/kafka.mjs start --secure | sed 's/^/export /')"
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive, isPortFree, startBroker, stopPid } from './kafka-broker.mjs';

const SECURE = process.argv.slice(3).includes('--secure');
const STATE_DIR = fileURLToPath(new URL(SECURE ? '../.tributary/kafka-secure' : '../.tributary/kafka', import.meta.url));
const STATE_FILE = join(STATE_DIR, 'broker.json');
const DEFAULT_PORT = SECURE ? 9094 : 9092;
const STOP = `npm run kafka:stop${SECURE ? ' -- --secure' : ''}`;

/** @typedef {{ pid: number, brokers: string, env: string[] }} State */

/** @param {string} brokers @param {import('./kafka-broker.mjs').MavenBroker['secure']} secure */
function envLines(brokers, secure) {
  return [`KAFKA_BROKERS=${brokers}`, ...(secure ? [`KAFKA_TLS_CA=${secure.ca}`, 'KAFKA_SASL_MECHANISM=SCRAM-SHA-512',
    `KAFKA_SASL_USERNAME=${secure.username}`, `KAFKA_SASL_PASSWORD_FILE=${secure.passwordFile}`] : [])];
}

/** @returns {State | undefined} */
function readState() {
  try {
    return JSON.parse(readFileSync(STATE_FILE, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The broker of the state file when it still runs (and, where /proc tells, is still our JVM,
 * not a recycled pid).
 * @param {State | undefined} state
 */
function running(state) {
  if (!state || !isAlive(state.pid)) return false;
  const cmdline = `/proc/${state.pid}/cmdline`;
  if (!existsSync(cmdline)) return true;
  const args = readFileSync(cmdline, 'utf8');
  return args.includes('kafka.Kafka') && args.includes(join(STATE_DIR, 'server.properties'));
}

async function start() {
  const state = readState();
  if (running(state)) {
    console.error(`kafka: already running (pid ${state?.pid}); stop it with ${STOP}`);
    console.log((state?.env ?? [`KAFKA_BROKERS=${state?.brokers}`]).join('\n'));
    return 0;
  }
  rmSync(STATE_DIR, { recursive: true, force: true }); // a stale run's data
  let port;
  if (process.env.KAFKA_PORT) {
    port = Number(process.env.KAFKA_PORT);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) {
      console.error(`kafka: KAFKA_PORT=${process.env.KAFKA_PORT} is not a port number`);
      return 2;
    }
  } else if (await isPortFree(DEFAULT_PORT)) {
    port = DEFAULT_PORT;
  } else {
    console.error(`kafka: port ${DEFAULT_PORT} is busy, using a free one (set KAFKA_PORT to choose)`);
  }
  try {
    const broker = await startBroker({ dataDir: STATE_DIR, port, detached: true, log: console.error, secure: SECURE });
    const env = envLines(broker.brokers, broker.secure);
    writeFileSync(STATE_FILE, `${JSON.stringify({ pid: broker.pid, brokers: broker.brokers, env })}\n`);
    console.error(`kafka: running in the background (log: ${STATE_DIR}/broker.log); stop it with ${STOP}`);
    console.log(env.join('\n'));
    return 0;
  } catch (e) {
    rmSync(STATE_DIR, { recursive: true, force: true });
    console.error(`kafka: could not start the broker: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
}

async function stop() {
  const state = readState();
  if (running(state) && state) {
    await stopPid(state.pid, 20_000);
    console.error(`kafka: stopped the broker at ${state.brokers} (pid ${state.pid}) and removed its data`);
  } else {
    console.error('kafka: no broker running');
  }
  rmSync(STATE_DIR, { recursive: true, force: true });
  return 0;
}

function status() {
  const state = readState();
  if (!running(state)) {
    console.error('kafka: no broker running');
    return 1;
  }
  console.log((state?.env ?? [`KAFKA_BROKERS=${state?.brokers}`]).join('\n'));
  return 0;
}

const command = process.argv[2];
const commands = { start, stop, status };
if (!command || !Object.hasOwn(commands, command)) {
  console.error('usage: node scripts/kafka.mjs start|stop|status [--secure]   (npm run kafka:start / npm run kafka:stop)');
  process.exit(2);
}
process.exit(await commands[/** @type {keyof typeof commands} */ (command)]());
