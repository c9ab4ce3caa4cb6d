/**
 * How a Kafka command connects: TLS and SASL for the brokers and basic auth for the schema
 * registry, each setting from, in this order, the command's flags, the environment, the
 * definition's `kafka` section (as the brokers are). Secrets come from files or environment
 * variables only, never from a flag or the definition's text, and no message here shows one.
 * Deciding where each setting comes from is pure ({@link planSecurity}, {@link planRegistry});
 * reading the files is the edge ({@link loadSecurity}, {@link loadRegistry}).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { PipelineDefinition, SecretRef } from '../pipeline/definition.js';
import { saslMechanismOf, SASL_MECHANISMS, type KafkaSecurity, type KafkaTls, type SaslMechanism } from '../runtime/kafka/connection.js';

/** The security flags of a Kafka command (commander's camel-cased names). */
export interface SecurityFlags {
  tls?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsSkipVerify?: boolean;
  saslMechanism?: string;
  saslUsername?: string;
  saslPasswordFile?: string;
}

/** The schema registry flags of `run` and `consume`. */
export interface RegistryFlags {
  schemaRegistry?: string;
  schemaRegistryUsername?: string;
  schemaRegistryPasswordFile?: string;
}

/** Settings that cannot work (exit 2); the message names the setting, never a secret. */
export class ConnectionSettingsError extends Error {}

type Env = Record<string, string | undefined>;
type KafkaSection = PipelineDefinition['kafka'];
/** A file to read, with the setting that named it (for messages). */
interface FileRef {
  path: string;
  what: string;
}
/** Where a password is: a file, or an environment variable. */
type SecretSource = { file: FileRef } | { env: string; what: string };

/** What {@link planSecurity} decided: where each setting comes from, nothing read yet. */
export interface SecurityPlan {
  tls?: { ca?: FileRef; cert?: FileRef; key?: FileRef; rejectUnauthorized: boolean };
  sasl?: { mechanism: SaslMechanism; username: string; password: SecretSource };
  warnings: string[];
}

/** What {@link planRegistry} decided. */
export interface RegistryPlan {
  url: string;
  auth?: { username: string; password: SecretSource };
}

const fail = (message: string): never => {
  throw new ConnectionSettingsError(message);
};

/** A yes/no environment variable: undefined when unset or empty. */
function envFlag(env: Env, name: string): boolean | undefined {
  const v = env[name]?.trim().toLowerCase();
  if (v === undefined || v === '') return undefined;
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return fail(`${name} must be true or false (1 or 0), got "${env[name]}"`);
}

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v);

/** The password's source: the flag's file, the environment's value or file, then the definition's. */
function secretSource(flagFile: { value?: string; what: string }, envName: string, defined: SecretRef | undefined, section: string, baseDir: string, env: Env): SecretSource | undefined {
  if (flagFile.value !== undefined) return { file: { path: flagFile.value, what: flagFile.what } };
  if (nonEmpty(env[envName]) !== undefined) return { env: envName, what: envName };
  const envFile = nonEmpty(env[`${envName}_FILE`]);
  if (envFile !== undefined) return { file: { path: envFile, what: `${envName}_FILE` } };
  if (defined?.passwordEnv !== undefined && defined.passwordFile !== undefined) fail(`${section}: give passwordEnv or passwordFile, not both`);
  if (defined?.passwordFile !== undefined) return { file: { path: resolve(baseDir, defined.passwordFile), what: `${section}.passwordFile` } };
  if (defined?.passwordEnv !== undefined) return { env: defined.passwordEnv, what: `${section}.passwordEnv` };
  return undefined;
}

/**
 * Where TLS and SASL settings come from: flags, then `KAFKA_TLS*` / `KAFKA_SASL_*`, then
 * `kafka.tls` / `kafka.sasl` (their paths relative to `baseDir`, the definition's directory).
 * TLS is on with `--tls` (`KAFKA_TLS=1`, `kafka.tls: true`) or any CA, certificate or
 * skip-verify setting; SASL with a mechanism or a username. Throws {@link ConnectionSettingsError}.
 *
 * @example
 * ```ts
 * planSecurity({ tls: true, saslMechanism: 'scram-sha-512', saslUsername: 'app' }, { KAFKA_SASL_PASSWORD: '…' }, undefined, '.');
 * // { tls: { rejectUnauthorized: true }, sasl: { mechanism: 'SCRAM-SHA-512', username: 'app', password: { env: 'KAFKA_SASL_PASSWORD', … } }, warnings: [] }
 * ```
 */
export function planSecurity(flags: SecurityFlags, env: Env, kafka: KafkaSection, baseDir: string): SecurityPlan {
  const warnings: string[] = [];
  const defTls = typeof kafka?.tls === 'object' ? kafka.tls : undefined;
  const file = (flag: string | undefined, flagName: string, envName: string, defined: string | undefined, defName: string): FileRef | undefined => {
    if (flag !== undefined) return { path: flag, what: flagName };
    const fromEnv = nonEmpty(env[envName]);
    if (fromEnv !== undefined) return { path: fromEnv, what: envName };
    return defined === undefined ? undefined : { path: resolve(baseDir, defined), what: defName };
  };
  const ca = file(flags.tlsCa, '--tls-ca', 'KAFKA_TLS_CA', defTls?.ca, 'kafka.tls.ca');
  const cert = file(flags.tlsCert, '--tls-cert', 'KAFKA_TLS_CERT', defTls?.cert, 'kafka.tls.cert');
  const key = file(flags.tlsKey, '--tls-key', 'KAFKA_TLS_KEY', defTls?.key, 'kafka.tls.key');
  const skipVerify = flags.tlsSkipVerify ?? envFlag(env, 'KAFKA_TLS_SKIP_VERIFY') ?? (defTls?.rejectUnauthorized === false ? true : undefined);
  const switched = flags.tls ?? envFlag(env, 'KAFKA_TLS') ?? (kafka?.tls === undefined ? undefined : kafka.tls !== false);
  const byFlag = flags.tlsCa !== undefined || flags.tlsCert !== undefined || flags.tlsKey !== undefined || flags.tlsSkipVerify === true;
  const tlsOn = byFlag || (switched ?? (ca !== undefined || cert !== undefined || key !== undefined || skipVerify === true));
  const plan: SecurityPlan = { warnings };
  if (tlsOn) {
    if ((cert === undefined) !== (key === undefined)) {
      fail(cert ? `${cert.what} needs the certificate's key too: --tls-key <file> (or KAFKA_TLS_KEY, kafka.tls.key)` : `${key?.what} needs the client certificate too: --tls-cert <file> (or KAFKA_TLS_CERT, kafka.tls.cert)`);
    }
    plan.tls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), rejectUnauthorized: skipVerify !== true };
    if (skipVerify === true) warnings.push('TLS certificates are not verified (--tls-skip-verify): anyone on the path can pose as the broker');
  }

  const mechanismText = flags.saslMechanism ?? nonEmpty(env.KAFKA_SASL_MECHANISM) ?? kafka?.sasl?.mechanism;
  const username = flags.saslUsername ?? nonEmpty(env.KAFKA_SASL_USERNAME) ?? kafka?.sasl?.username;
  if (mechanismText === undefined && username === undefined) return plan;
  if (mechanismText === undefined) return fail(`SASL needs a mechanism: --sasl-mechanism ${SASL_MECHANISMS.join(', ')} (or KAFKA_SASL_MECHANISM, kafka.sasl.mechanism)`);
  const mechanism = saslMechanismOf(mechanismText) ?? fail(`the SASL mechanism must be one of ${SASL_MECHANISMS.join(', ')}, got "${mechanismText}" (--sasl-mechanism, KAFKA_SASL_MECHANISM, kafka.sasl.mechanism)`);
  if (username === undefined) return fail('SASL needs a username: --sasl-username <name> (or KAFKA_SASL_USERNAME, kafka.sasl.username)');
  const password = secretSource({ value: flags.saslPasswordFile, what: '--sasl-password-file' }, 'KAFKA_SASL_PASSWORD', kafka?.sasl, 'kafka.sasl', baseDir, env)
    ?? fail(`SASL needs the password of user "${username}": --sasl-password-file <file>, KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE (or kafka.sasl.passwordEnv / passwordFile)`);
  plan.sasl = { mechanism, username, password };
  if (mechanism === 'PLAIN' && !tlsOn) warnings.push('SASL PLAIN without TLS sends the password in clear text: add --tls (or KAFKA_TLS=1, kafka.tls)');
  return plan;
}

/**
 * The schema registry and its login: `--schema-registry` / `SCHEMA_REGISTRY_URL` /
 * `kafka.schemaRegistry`; `--schema-registry-username` / `SCHEMA_REGISTRY_USERNAME` /
 * `kafka.schemaRegistryAuth.username` and the password as for SASL (`SCHEMA_REGISTRY_PASSWORD`…).
 * Undefined without a URL. Throws {@link ConnectionSettingsError}.
 */
export function planRegistry(flags: RegistryFlags, env: Env, kafka: KafkaSection, baseDir: string): RegistryPlan | undefined {
  const url = flags.schemaRegistry ?? nonEmpty(env.SCHEMA_REGISTRY_URL) ?? kafka?.schemaRegistry;
  if (url === undefined) return undefined;
  const username = flags.schemaRegistryUsername ?? nonEmpty(env.SCHEMA_REGISTRY_USERNAME) ?? kafka?.schemaRegistryAuth?.username;
  if (username === undefined) return { url };
  const password = secretSource({ value: flags.schemaRegistryPasswordFile, what: '--schema-registry-password-file' }, 'SCHEMA_REGISTRY_PASSWORD', kafka?.schemaRegistryAuth, 'kafka.schemaRegistryAuth', baseDir, env)
    ?? fail(`the schema registry login needs the password of user "${username}": --schema-registry-password-file <file>, SCHEMA_REGISTRY_PASSWORD or SCHEMA_REGISTRY_PASSWORD_FILE (or kafka.schemaRegistryAuth.passwordEnv / passwordFile)`);
  return { url, auth: { username, password } };
}

type Read = (path: string) => string;
const readUtf8: Read = (path) => readFileSync(path, 'utf8');

function readRef(ref: FileRef, read: Read): string {
  try {
    return read(ref.path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a directory' : (e as Error).message.split('\n')[0];
    return fail(`cannot read ${ref.what} ${ref.path}: ${why} (check the path)`);
  }
}

function readSecret(source: SecretSource, env: Env, read: Read): string {
  const value = 'file' in source ? readRef(source.file, read).replace(/\r?\n$/, '') : env[source.env];
  if ('env' in source && value === undefined) fail(`${source.what} names ${source.env}, which is not set: export it (or give the password in a file)`);
  if (value === undefined || value === '') fail(`the password from ${'file' in source ? `${source.file.what} ${source.file.path}` : source.what} is empty`);
  return value as string;
}

/** Reads what `plan` names: the TLS files and the SASL password. Throws {@link ConnectionSettingsError}. */
export function loadSecurity(plan: SecurityPlan, env: Env = process.env, read: Read = readUtf8): KafkaSecurity {
  const out: KafkaSecurity = {};
  if (plan.tls) {
    const { ca, cert, key, rejectUnauthorized } = plan.tls;
    const tls: KafkaTls = {
      ...(ca ? { ca: readRef(ca, read) } : {}),
      ...(cert ? { cert: readRef(cert, read) } : {}),
      ...(key ? { key: readRef(key, read) } : {}),
      ...(rejectUnauthorized ? {} : { rejectUnauthorized: false }),
    };
    out.tls = tls;
  }
  if (plan.sasl) out.sasl = { mechanism: plan.sasl.mechanism, username: plan.sasl.username, password: readSecret(plan.sasl.password, env, read) };
  return out;
}

/** Reads the registry password `plan` names. */
export function loadRegistry(plan: RegistryPlan, env: Env = process.env, read: Read = readUtf8): { url: string; basicAuth?: { username: string; password: string } } {
  if (!plan.auth) return { url: plan.url };
  return { url: plan.url, basicAuth: { username: plan.auth.username, password: readSecret(plan.auth.password, env, read) } };
}

/** The directory a definition's relative paths start from (the working directory without one). */
export const definitionDir = (file: string | undefined): string => (file === undefined ? process.cwd() : dirname(resolve(file)));

/** Adds the TLS and SASL flags to a Kafka command. */
export function addSecurityOptions(command: Command): Command {
  return command
    .option('--tls', 'Kafka: connect over TLS (default KAFKA_TLS, then kafka.tls; on by itself with any --tls-* flag)')
    .option('--tls-ca <file>', 'Kafka: PEM file of the CA that signed the brokers\' certificates (default KAFKA_TLS_CA, then kafka.tls.ca; else the system CAs)')
    .option('--tls-cert <file>', 'Kafka: PEM client certificate, for brokers that authenticate clients by certificate (with --tls-key; KAFKA_TLS_CERT)')
    .option('--tls-key <file>', 'Kafka: PEM key of --tls-cert (KAFKA_TLS_KEY)')
    .option('--tls-skip-verify', 'Kafka: do not verify the brokers\' certificates (tests only; KAFKA_TLS_SKIP_VERIFY=1)')
    .option('--sasl-mechanism <mechanism>', `Kafka: SASL login, ${SASL_MECHANISMS.join(', ')} (default KAFKA_SASL_MECHANISM, then kafka.sasl.mechanism)`)
    .option('--sasl-username <name>', 'Kafka: SASL user (default KAFKA_SASL_USERNAME, then kafka.sasl.username)')
    .option('--sasl-password-file <file>', 'Kafka: file holding the SASL password (default KAFKA_SASL_PASSWORD, KAFKA_SASL_PASSWORD_FILE, then kafka.sasl.passwordEnv / passwordFile)');
}

/** Adds the schema registry login flags (commands with `--schema-registry`). */
export function addRegistryAuthOptions(command: Command): Command {
  return command
    .option('--schema-registry-username <name>', 'schema registry basic-auth user (default SCHEMA_REGISTRY_USERNAME, then kafka.schemaRegistryAuth.username)')
    .option('--schema-registry-password-file <file>', 'file holding the schema registry password (default SCHEMA_REGISTRY_PASSWORD, SCHEMA_REGISTRY_PASSWORD_FILE, then kafka.schemaRegistryAuth)');
}
