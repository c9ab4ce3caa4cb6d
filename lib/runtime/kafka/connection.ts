/**
 * How the kafkajs client connects: our connection settings (brokers, fail-fast timeouts, TLS,
 * SASL, logging) as the options of kafkajs's `Kafka` constructor, and a description of the
 * security that never shows a secret. Pure: certificate and key files were read by the caller,
 * which hands their PEM text.
 */
import type { ConnectionOptions } from 'node:tls';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import { kafkajsLevel, kafkajsLogCreator, type KafkaLogLevelName } from './kafkajs-log.js';

/** SASL mechanisms, as Kafka names them (`sasl.mechanism`). */
export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** TLS to the brokers. Certificates and key are PEM text (not paths). */
export interface KafkaTls {
  /** CA certificate(s) that signed the brokers' certificates; default: Node's trusted CAs. */
  ca?: string;
  /** Client certificate and its key, for brokers that authenticate clients by certificate (mTLS). */
  cert?: string;
  key?: string;
  /** Verify the brokers' certificates (default true). */
  rejectUnauthorized?: boolean;
}

/** A SASL login. */
export interface KafkaSasl {
  mechanism: SaslMechanism;
  username: string;
  password: string;
}

/** Security of the connection; neither: PLAINTEXT. */
export interface KafkaSecurity {
  tls?: KafkaTls;
  sasl?: KafkaSasl;
}

export interface KafkaJsAdapterOptions {
  brokers: string[];
  clientId?: string;
  /** kafkajs's own logging; default 'warn'. With `log`, one plain line per entry goes there (else kafkajs's JSON to the console). */
  logLevel?: KafkaLogLevelName;
  log?: (line: string) => void;
  /** Compression of produced batches; default none. */
  compression?: 'none' | 'gzip';
  /** Fail fast (command-line tools): connection timeout in ms and retries per request; default kafkajs's 1000 ms and 5. */
  connection?: { timeoutMs: number; retries: number };
  /** TLS and SASL; default PLAINTEXT. */
  security?: KafkaSecurity;
}

/**
 * The mechanism named by `text`, in any case (`scram-sha-512`, `SCRAM-SHA-512`), or undefined.
 *
 * @example
 * ```ts
 * saslMechanismOf('scram-sha-512'); // 'SCRAM-SHA-512'
 * saslMechanismOf('GSSAPI');        // undefined
 * ```
 */
export function saslMechanismOf(text: string): SaslMechanism | undefined {
  const upper = text.trim().toUpperCase();
  return SASL_MECHANISMS.find((m) => m === upper);
}

/**
 * kafkajs's `ssl` and `sasl` options for `security` (none for PLAINTEXT).
 *
 * @example
 * ```ts
 * kafkajsSecurity({ tls: { ca: pem }, sasl: { mechanism: 'SCRAM-SHA-512', username: 'app', password } });
 * // { ssl: { ca: [pem] }, sasl: { mechanism: 'scram-sha-512', username: 'app', password } }
 * ```
 */
export function kafkajsSecurity(security: KafkaSecurity | undefined): { ssl?: ConnectionOptions | boolean; sasl?: SASLOptions } {
  const out: { ssl?: ConnectionOptions | boolean; sasl?: SASLOptions } = {};
  const tls = security?.tls;
  if (tls) {
    const ssl: ConnectionOptions = {
      ...(tls.ca === undefined ? {} : { ca: [tls.ca] }),
      ...(tls.cert === undefined ? {} : { cert: tls.cert }),
      ...(tls.key === undefined ? {} : { key: tls.key }),
      ...(tls.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
    };
    out.ssl = Object.keys(ssl).length === 0 ? true : ssl;
  }
  const sasl = security?.sasl;
  if (sasl) {
    const { username, password } = sasl;
    const mechanism = sasl.mechanism.toLowerCase() as Lowercase<SaslMechanism>;
    out.sasl = { mechanism, username, password };
  }
  return out;
}

/**
 * The kafkajs `Kafka` constructor's options for our settings.
 *
 * @example
 * ```ts
 * new Kafka(kafkajsConfig({ brokers: ['b1:9093'], clientId: 'shop', security: { tls: {} } }));
 * ```
 */
export function kafkajsConfig(options: KafkaJsAdapterOptions): KafkaConfig {
  return {
    clientId: options.clientId ?? 'tributary',
    brokers: options.brokers,
    logLevel: kafkajsLevel(options.logLevel ?? 'warn'),
    ...(options.log ? { logCreator: kafkajsLogCreator(options.log) } : {}),
    ...(options.connection ? { connectionTimeout: options.connection.timeoutMs, retry: { retries: options.connection.retries } } : {}),
    ...kafkajsSecurity(options.security),
  };
}

/**
 * How the connection is secured, in words, without secrets: what a log line or `--verbose` may show.
 *
 * @example
 * ```ts
 * describeSecurity({ tls: { ca: pem }, sasl: { mechanism: 'SCRAM-SHA-512', username: 'app', password } });
 * // 'TLS (CA file), SASL SCRAM-SHA-512 as "app"'
 * describeSecurity(undefined); // 'PLAINTEXT'
 * ```
 */
export function describeSecurity(security: KafkaSecurity | undefined): string {
  const parts: string[] = [];
  const tls = security?.tls;
  if (tls) {
    const notes = [
      ...(tls.ca === undefined ? [] : ['CA file']),
      ...(tls.cert === undefined ? [] : ['client certificate']),
      ...(tls.rejectUnauthorized === false ? ['certificates NOT verified'] : []),
    ];
    parts.push(notes.length > 0 ? `TLS (${notes.join(', ')})` : 'TLS');
  }
  if (security?.sasl) parts.push(`SASL ${security.sasl.mechanism} as "${security.sasl.username}"`);
  return parts.length > 0 ? parts.join(', ') : 'PLAINTEXT';
}
