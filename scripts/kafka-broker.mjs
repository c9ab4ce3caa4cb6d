// A real Apache Kafka broker for integration tests and local runs, in this order:
// KAFKA_BROKERS if set; else testcontainers when a Docker engine answers; else a single-node
// KRaft broker started from Apache Kafka's own Maven Central jars (tools/kafka/, see its README).
// Plain ESM JavaScript so that it runs before `tsc` has built anything.
import { spawn, execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync,
  rmSync, writeFileSync,
} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const KAFKA_DIR = join(ROOT, 'tools', 'kafka');
const POM = join(KAFKA_DIR, 'pom.xml');
/** Where `ensureJars()` puts the broker's runtime classpath (tools/kafka/target/ is gitignored). */
export const LIB_DIR = join(KAFKA_DIR, 'target', 'kafka-libs');
const STAMP = '.pom.sha256';
const READY_LINE = 'Kafka Server started';
/** cp-kafka 7.9 is Apache Kafka 3.9, the same line as tools/kafka/pom.xml. */
const TESTCONTAINERS_IMAGE = process.env.KAFKA_TESTCONTAINERS_IMAGE || 'confluentinc/cp-kafka:7.9.0';

/** @typedef {(line: string) => void} Log */
/** @typedef {{ ca: string, username: string, passwordFile: string, mechanisms: string[] }} SecureAccess */
/** @typedef {{ brokers: string, pid: number, dataDir: string, startMs: number, stop: () => Promise<void>, secure?: SecureAccess }} MavenBroker */
/** @typedef {{ brokers: string, how: 'env' | 'testcontainers' | 'maven', stop: () => Promise<void> }} ObtainedBroker */

/** @param {unknown} e */
const message = (e) => (e instanceof Error ? e.message : String(e));
/** @param {string} text @param {number} n */
const tail = (text, n = 40) => text.trimEnd().split('\n').slice(-n).join('\n');

/**
 * Runs a command to completion, collecting its output; rejects with a clear message when the
 * program is missing or exits non-zero.
 * @param {string} cmd @param {string[]} args @param {string} what
 * @returns {Promise<string>}
 */
function run(cmd, args, what) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const out = `${stdout}${stderr}`;
      if (!err) return resolve(out);
      if (/** @type {NodeJS.ErrnoException} */ (err).code === 'ENOENT') {
        return reject(new Error(`${what}: \`${cmd}\` is not on PATH (the Maven broker needs Java 17+ and Maven)`));
      }
      const how = err.signal ? `signal ${err.signal}` : `exit code ${err.code}`;
      reject(new Error(`${what}: \`${cmd} ${args.join(' ')}\` failed (${how}):\n${tail(out)}`));
    });
  });
}

/**
 * Makes sure the broker jars are in tools/kafka/target/kafka-libs, fetching them from Maven
 * Central with tools/kafka/pom.xml when missing or when the pom changed since the last fetch.
 * Safe to call from several processes at once (each copies into its own directory and renames).
 * @example
 *   await ensureJars({ log: console.error }); // ~46 MB on first use, then a no-op
 * @param {{ log?: Log }} [options]
 * @returns {Promise<string>} the directory holding the jars
 */
export async function ensureJars({ log = () => {} } = {}) {
  const hash = createHash('sha256').update(readFileSync(POM)).digest('hex');
  const current = () => {
    try { return readFileSync(join(LIB_DIR, STAMP), 'utf8') === hash; } catch { return false; }
  };
  if (current()) return LIB_DIR;
  const tmp = `${LIB_DIR}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const t0 = performance.now();
  log('kafka: fetching the broker jars from Maven Central (tools/kafka/pom.xml)');
  await run('mvn', ['-B', '-q', '-f', POM, 'dependency:copy-dependencies', '-DincludeScope=runtime',
    `-DoutputDirectory=${tmp}`], 'fetching the Kafka broker jars');
  writeFileSync(join(tmp, STAMP), hash);
  if (!current()) {
    rmSync(LIB_DIR, { recursive: true, force: true });
    try { renameSync(tmp, LIB_DIR); } catch (e) { if (!current()) throw e; } // lost a race to a twin
  }
  rmSync(tmp, { recursive: true, force: true });
  log(`kafka: ${readdirSync(LIB_DIR).length - 1} jars in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return LIB_DIR;
}

/**
 * Resolves to true when nothing listens on 127.0.0.1:`port`.
 * @param {number} port
 * @returns {Promise<boolean>}
 */
export function isPortFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A port the OS considers free right now (small race until Kafka binds it; fine for tests). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A KRaft cluster id: 16 random bytes, URL-safe base64 without padding, not starting with '-'. */
function clusterId() {
  let id;
  do id = randomBytes(16).toString('base64url'); while (id.startsWith('-'));
  return id;
}

/**
 * JVM flags: small heap, SerialGC, C1 only (ready ~1.7 s after spawn, ~150 MB RSS; tools/kafka/README.md).
 * KAFKA_JVM_OPTS is appended, so its flags win (a GC flag there replaces SerialGC); benchmarks
 * want e.g. `-XX:TieredStopAtLevel=4` for C2.
 */
function jvmArgs() {
  const extra = (process.env.KAFKA_JVM_OPTS ?? '').split(/\s+/).filter(Boolean); // later flags win
  const gc = extra.some((o) => /^-XX:\+Use\w+GC$/.test(o)) ? [] : ['-XX:+UseSerialGC'];
  return ['-Xms64m', '-Xmx512m', ...gc, '-XX:TieredStopAtLevel=1', '-XX:-UsePerfData',
    '-XX:+ExitOnOutOfMemoryError', '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${join(KAFKA_DIR, 'log4j.properties')}`, ...extra,
    '-cp', join(LIB_DIR, '*')];
}

/**
 * Whether process `pid` is still alive (a zombie counts as gone).
 * @param {number} pid
 */
export function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return /** @type {NodeJS.ErrnoException} */ (e).code === 'EPERM';
  }
  try { return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return true; }
}

/**
 * Stops process `pid`: SIGTERM (Kafka shuts down cleanly in a few seconds), then SIGKILL.
 * @param {number} pid
 * @param {number} [timeoutMs]
 */
export async function stopPid(pid, timeoutMs = 15_000) {
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const deadline = performance.now() + timeoutMs;
  while (isAlive(pid)) {
    if (performance.now() > deadline) {
      try { process.kill(pid, 'SIGKILL'); } catch { return; }
      break;
    }
    await sleep(100);
  }
  while (isAlive(pid)) await sleep(50);
}

/**
 * One group join + offset commit and one committed transaction, so that __consumer_offsets and
 * __transaction_state exist and their coordinators are loaded before the first real test
 * (otherwise the first test meets GROUP_COORDINATOR_NOT_AVAILABLE / COORDINATOR_LOAD_IN_PROGRESS
 * retries).
 * @param {string} brokers
 * @param {object} [security] kafkajs `ssl` / `sasl` options (the secure broker)
 */
async function warmUp(brokers, security = {}) {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({ clientId: 'tributary-warmup', brokers: brokers.split(','), logLevel: logLevel.NOTHING, ...security });
  const topic = `__tributary-warmup-${randomBytes(4).toString('hex')}`;
  const admin = kafka.admin();
  const producer = kafka.producer({ transactionalId: topic, idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({ groupId: topic, sessionTimeout: 6000, heartbeatInterval: 500 });
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await producer.connect();
    const tx = await producer.transaction();
    await tx.send({ topic, messages: [{ value: 'warm-up' }] });
    await tx.commit();
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('warm-up consumer got no message in 30 s')), 30_000);
      consumer.run({ eachMessage: async () => { clearTimeout(timer); resolve(undefined); } }).catch(reject);
    });
    await consumer.commitOffsets([{ topic, partition: 0, offset: '1' }]);
  } finally {
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

/** The SASL user of the secure broker (its password is random per start, in `<dataDir>/sasl-password`). */
export const SECURE_USER = 'tributary';
const SCRAM = ['SCRAM-SHA-512', 'SCRAM-SHA-256'];

/**
 * The secure broker's listener settings, laid over the plain template: the client listener is
 * SASL_SSL (SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN; inter-broker SCRAM-SHA-512), the controller
 * listener stays PLAINTEXT. Later keys replace the template's.
 * @param {string} base the filled-in template
 * @param {{ port: number, controllerPort: number, keystore: string, storePassword: string, ca: string, password: string }} o
 */
function secureProperties(base, o) {
  const scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required';
  const plain = 'org.apache.kafka.common.security.plain.PlainLoginModule required';
  /** @type {Record<string, string>} */
  const overrides = {
    listeners: `SASL_SSL://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort}`,
    'advertised.listeners': `SASL_SSL://127.0.0.1:${o.port}`,
    'inter.broker.listener.name': 'SASL_SSL',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL',
    'sasl.enabled.mechanisms': [...SCRAM, 'PLAIN'].join(','),
    'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512',
    'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': `${scram} username="${SECURE_USER}" password="${o.password}";`,
    'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config': `${scram};`,
    'listener.name.sasl_ssl.plain.sasl.jaas.config': `${plain} username="${SECURE_USER}" password="${o.password}" user_${SECURE_USER}="${o.password}";`,
    'ssl.keystore.type': 'PKCS12',
    'ssl.keystore.location': o.keystore,
    'ssl.keystore.password': o.storePassword,
    'ssl.key.password': o.storePassword,
    // the inter-broker client trusts the self-signed certificate (a PEM trust store, Kafka 2.7+)
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': o.ca,
  };
  const kept = base.split('\n').filter((line) => !Object.hasOwn(overrides, line.split('=')[0]?.trim() ?? ''));
  return `${kept.join('\n')}\n# ---- secure broker (SASL_SSL) ----------------------------------------------\n${
    Object.entries(overrides).map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
}

/**
 * A self-signed certificate for 127.0.0.1/localhost made with keytool into a PKCS12 keystore,
 * and the same certificate as PEM for clients (their CA file). Two short JVM runs.
 * @param {string} dir
 * @returns {Promise<{ keystore: string, storePassword: string, ca: string }>}
 */
async function makeCertificate(dir) {
  const keystore = join(dir, 'broker.p12');
  const ca = join(dir, 'ca.pem');
  const storePassword = randomBytes(12).toString('hex');
  const store = ['-keystore', keystore, '-storetype', 'PKCS12', '-storepass', storePassword];
  await run('keytool', ['-genkeypair', '-alias', 'broker', '-keyalg', 'EC', '-groupname', 'secp256r1', '-validity', '3650',
    '-dname', 'CN=127.0.0.1', '-ext', 'SAN=ip:127.0.0.1,dns:localhost', ...store, '-keypass', storePassword],
  'making the secure broker\'s certificate');
  await run('keytool', ['-exportcert', '-rfc', '-alias', 'broker', ...store, '-file', ca], 'exporting the broker\'s certificate');
  return { keystore, storePassword, ca };
}

/**
 * Starts a single-node KRaft broker (combined broker + controller) from the Maven jars:
 * writes server.properties into `dataDir`, formats the storage, spawns the JVM, waits for
 * "Kafka Server started" and warms it up. Broker output goes to `<dataDir>/broker.log`.
 * @example
 *   const broker = await startBroker();
 *   process.env.KAFKA_BROKERS = broker.brokers; // '127.0.0.1:41234'
 *   await broker.stop();
 * @param {{ dataDir?: string, port?: number, detached?: boolean, warmUp?: boolean, timeoutMs?: number, log?: Log, secure?: boolean }} [options]
 *   dataDir: kept on stop() when given, else a fresh temp dir removed on stop();
 *   port: the client port (default: a free one); detached: the JVM outlives this process;
 *   secure: a SASL_SSL client listener (self-signed certificate, `<dataDir>/ca.pem`; SCRAM-SHA-512,
 *   SCRAM-SHA-256 and PLAIN user {@link SECURE_USER}, password in `<dataDir>/sasl-password`),
 *   described by the result's `secure`.
 * @returns {Promise<MavenBroker>} brokers is a bootstrap list in KAFKA_BROKERS form
 */
export async function startBroker(options = {}) {
  const { detached = false, timeoutMs = 120_000, log = () => {} } = options;
  await ensureJars({ log });
  const ownDir = !options.dataDir;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'tributary-kafka-'));
  mkdirSync(dataDir, { recursive: true });
  const cleanUp = () => { if (ownDir) rmSync(dataDir, { recursive: true, force: true }); };
  try {
    const port = options.port ?? await freePort();
    if (options.port !== undefined && !(await isPortFree(port))) {
      throw new Error(`port ${port} is in use (set KAFKA_PORT or stop what listens there)`);
    }
    let controllerPort;
    do controllerPort = await freePort(); while (controllerPort === port);
    const config = join(dataDir, 'server.properties');
    let properties = readFileSync(join(KAFKA_DIR, 'server.properties.template'), 'utf8')
      .replaceAll('@PORT@', String(port))
      .replaceAll('@CONTROLLER_PORT@', String(controllerPort))
      .replaceAll('@DATA_DIR@', join(dataDir, 'data'));
    const t0 = performance.now();
    /** @type {SecureAccess | undefined} */
    let secure;
    /** @type {string[]} */
    const scram = [];
    /** @type {object} */
    let clientSecurity = {};
    if (options.secure) {
      const password = randomBytes(12).toString('hex');
      const cert = await makeCertificate(dataDir);
      const passwordFile = join(dataDir, 'sasl-password');
      writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
      properties = secureProperties(properties, { port, controllerPort, ...cert, password });
      for (const m of SCRAM) scram.push('--add-scram', `${m}=[name=${SECURE_USER},password=${password}]`);
      secure = { ca: cert.ca, username: SECURE_USER, passwordFile, mechanisms: [...SCRAM, 'PLAIN'] };
      clientSecurity = { ssl: { ca: [readFileSync(cert.ca, 'utf8')] }, sasl: { mechanism: 'scram-sha-512', username: SECURE_USER, password } };
    }
    writeFileSync(config, properties, { mode: 0o600 });
    await run('java', [...jvmArgs(), 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', config, ...scram],
      'formatting the Kafka storage');
    const t1 = performance.now();

    const logFile = join(dataDir, 'broker.log');
    const fd = openSync(logFile, 'a');
    const child = spawn('java', [...jvmArgs(), 'kafka.Kafka', config], { stdio: ['ignore', fd, fd], detached });
    closeSync(fd);
    if (detached) child.unref();
    /** @type {string | undefined} */
    let exited;
    child.once('exit', (code, signal) => { exited = `exited with ${signal ?? `code ${code}`}`; });
    child.once('error', (e) => { exited = e.message; });
    const readLog = () => { try { return readFileSync(logFile, 'utf8'); } catch { return ''; } };
    const pid = child.pid ?? 0;
    const stopChild = async () => {
      if (exited === undefined && pid) await stopPid(pid);
    };

    const deadline = t0 + timeoutMs;
    while (!readLog().includes(READY_LINE)) {
      if (exited !== undefined) throw new Error(`the Kafka broker ${exited} before it was ready:\n${tail(readLog())}`);
      if (performance.now() > deadline) {
        await stopChild();
        throw new Error(`the Kafka broker was not ready after ${timeoutMs / 1000} s:\n${tail(readLog())}`);
      }
      await sleep(50);
    }
    const startMs = Math.round(performance.now() - t1);
    const brokers = `127.0.0.1:${port}`;
    /** @type {Promise<void> | undefined} */
    let stopping;
    const stop = () => (stopping ??= stopChild().then(cleanUp));
    if (options.warmUp !== false) {
      try {
        await warmUp(brokers, clientSecurity);
      } catch (e) {
        await stopChild();
        throw new Error(`the Kafka broker started but its warm-up failed: ${message(e)}\n${tail(readLog())}`, { cause: e });
      }
    }
    const secs = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(1)} s`;
    log(`kafka: Maven KRaft broker at ${brokers}${secure ? ' (SASL_SSL)' : ''} (pid ${pid}; ${secure ? 'certificate and ' : ''}format ${secs(t1 - t0)}, JVM to ready ` +
      `${secs(startMs)}, warm-up ${secs(performance.now() - t1 - startMs)})`);
    return { brokers, pid, dataDir, startMs, stop, ...(secure ? { secure } : {}) };
  } catch (e) {
    cleanUp();
    throw e;
  }
}

/**
 * GET /_ping on a Docker engine, resolving to true on HTTP 200 within `timeoutMs`.
 * @param {http.RequestOptions} target
 * @param {number} [timeoutMs]
 * @returns {Promise<boolean>}
 */
function ping(target, timeoutMs = 1500) {
  return new Promise((resolve) => {
    const req = http.get({ ...target, path: '/_ping', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('timeout', () => { req.destroy(); resolve(false); });
    req.once('error', () => resolve(false));
  });
}

/**
 * Whether a Docker engine answers, checked in well under two seconds without loading
 * testcontainers: DOCKER_HOST (unix:// or tcp://; other schemes are left to testcontainers),
 * else the usual socket paths.
 * @returns {Promise<{ ok: boolean, why: string }>}
 */
async function dockerEngine() {
  const host = process.env.DOCKER_HOST;
  if (host) {
    if (host.startsWith('unix://')) {
      const socketPath = host.slice('unix://'.length);
      return (await ping({ socketPath }))
        ? { ok: true, why: `Docker at ${host}` } : { ok: false, why: `DOCKER_HOST=${host} does not answer` };
    }
    if (host.startsWith('tcp://') && process.env.DOCKER_TLS_VERIFY !== '1') {
      const url = new URL(host);
      return (await ping({ host: url.hostname, port: Number(url.port || 2375) }))
        ? { ok: true, why: `Docker at ${host}` } : { ok: false, why: `DOCKER_HOST=${host} does not answer` };
    }
    return { ok: true, why: `DOCKER_HOST=${host} (left to testcontainers to check)` };
  }
  const sockets = ['/var/run/docker.sock', join(homedir(), '.docker', 'run', 'docker.sock'),
    ...(process.env.XDG_RUNTIME_DIR ? [join(process.env.XDG_RUNTIME_DIR, 'docker.sock')] : [])];
  for (const socketPath of sockets.filter((s) => existsSync(s))) {
    if (await ping({ socketPath })) return { ok: true, why: `Docker at ${socketPath}` };
  }
  return { ok: false, why: 'no Docker engine answers (DOCKER_HOST unset, no live docker.sock)' };
}

/**
 * The broker for a test run, in this order: KAFKA_BROKERS if set; else a testcontainers
 * KafkaContainer when a Docker engine answers; else the Maven broker (startBroker()).
 * Throws with every reason when none can be had.
 * @example
 *   const broker = await obtainBroker({ log: console.error });
 *   try { process.env.KAFKA_BROKERS = broker.brokers; } finally { await broker.stop(); }
 * @param {{ log?: Log }} [options]
 * @returns {Promise<ObtainedBroker>}
 */
export async function obtainBroker({ log = () => {} } = {}) {
  const fromEnv = process.env.KAFKA_BROKERS?.trim();
  if (fromEnv) return { brokers: fromEnv, how: 'env', stop: async () => {} };

  const docker = await dockerEngine();
  let dockerNote = docker.why;
  if (docker.ok) {
    try {
      const { KafkaContainer } = await import('@testcontainers/kafka');
      const t0 = performance.now();
      const container = await new KafkaContainer(TESTCONTAINERS_IMAGE).withKraft().withEnvironment({
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '1',
        KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS: '1',
        KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS: '1000',
      }).start();
      const brokers = `${container.getHost()}:${container.getMappedPort(9093)}`;
      const stop = async () => { await container.stop(); };
      try {
        await warmUp(brokers);
      } catch (e) {
        await stop();
        throw e;
      }
      log(`kafka: testcontainers ${TESTCONTAINERS_IMAGE} at ${brokers} (${docker.why}, ready in ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      return { brokers, how: 'testcontainers', stop };
    } catch (e) {
      dockerNote = `${docker.why}, but testcontainers failed: ${message(e)}`;
      log(`kafka: ${dockerNote}; trying the Maven broker`);
    }
  }
  try {
    const broker = await startBroker({ log });
    return { brokers: broker.brokers, how: 'maven', stop: broker.stop };
  } catch (e) {
    throw new Error(`no Kafka broker: KAFKA_BROKERS is not set; ${dockerNote}; and the Maven broker ` +
      `(tools/kafka) failed: ${message(e)}`, { cause: e });
  }
}
