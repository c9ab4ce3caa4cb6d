/**
 * A failed TLS handshake or SASL login as one line with the fix, decided from the kafkajs error
 * and the connection's settings alone (pure). Never shows a secret: the messages name the user,
 * the mechanism and the settings to check, and kafkajs's own messages carry no password.
 */
import type { KafkaSecurity } from '../runtime/kafka/connection.js';

/** Where a command connected. */
export interface ConnectionContext {
  brokers: string[];
  security?: KafkaSecurity;
}

interface ErrorLike {
  name?: string;
  message?: string;
  code?: string;
  type?: string;
  cause?: unknown;
  originalError?: unknown;
}

/** The error and what it wraps (kafkajs: `cause`, `originalError`), outermost first. */
function chain(error: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 8; depth++) {
    out.push(e as ErrorLike);
    e = (e as ErrorLike).cause ?? (e as ErrorLike).originalError;
  }
  return out;
}

/** Certificates Node could not trust. */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
]);
const OUT_OF_DATE = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

const detailOf = (message: string | undefined) => (message ?? '').split('\n')[0]?.replace(/^Connection error: /, '') ?? '';

/**
 * The one line (without `error: `) for a TLS or SASL failure, or undefined for any other error.
 *
 * @example
 * ```ts
 * securityFailure(saslError, { brokers: ['b1:9094'], security: { sasl: { mechanism: 'SCRAM-SHA-512', username: 'app', password } } });
 * // 'Kafka at b1:9094 refused the SASL login for user "app" (SCRAM-SHA-512): check the username/password'
 * ```
 */
export function securityFailure(error: unknown, context: ConnectionContext): string | undefined {
  const where = `Kafka at ${context.brokers.join(',')}`;
  const tls = context.security?.tls !== undefined;
  const sasl = context.security?.sasl;
  for (const e of chain(error)) {
    const message = e.message ?? '';
    const detail = detailOf(message);
    if (e.name === 'KafkaJSSASLAuthenticationError' || /^SASL .*authentication failed/.test(message)) {
      const mechanism = /SASL (\S+) mechanism is not supported/.exec(message)?.[1];
      if (mechanism) return `${where} does not offer SASL ${mechanism}: choose a mechanism its listener enables (--sasl-mechanism, KAFKA_SASL_MECHANISM or kafka.sasl.mechanism)`;
      return `${where} refused the SASL login for user "${sasl?.username ?? '?'}" (${sasl?.mechanism ?? 'SASL'}): check the username/password`;
    }
    if (e.type === 'ILLEGAL_SASL_STATE' || /current SASL state/.test(message)) {
      return `${where} takes no SASL login on this listener: leave out the SASL settings, or connect to the broker's SASL listener`;
    }
    if (e.code !== undefined && UNTRUSTED.has(e.code)) {
      return `the TLS certificate of ${where} is not trusted (${detail}): give the CA that signed it with --tls-ca <file> (or KAFKA_TLS_CA, kafka.tls.ca)`;
    }
    if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return `the TLS certificate of ${where} is not for that address (${detail}): connect by a host name the certificate lists`;
    }
    if (e.code !== undefined && OUT_OF_DATE.has(e.code)) {
      return `the TLS certificate of ${where} is not valid now (${detail}): the broker needs a current certificate`;
    }
    if (tls && /before secure TLS connection was established|wrong version number|EPROTO|packet length too long/i.test(`${message} ${e.code ?? ''}`)) {
      return `${where} broke off the TLS handshake (${detail}): is it a TLS listener? Without TLS, leave out the TLS settings (--tls*, KAFKA_TLS*, kafka.tls)`;
    }
    if (e.name === 'KafkaJSConnectionClosedError' && (!tls || !sasl)) {
      const missing = [...(tls ? [] : ['TLS (--tls)']), ...(sasl ? [] : ['a SASL login (--sasl-mechanism, --sasl-username, a password)'])];
      return `${where} closed the connection (${detail}): if its listener wants ${missing.join(' or ')}, give ${missing.length > 1 ? 'them' : 'it'}`;
    }
  }
  return undefined;
}

/**
 * Whether a kafkajs log line only repeats a TLS or SASL failure that {@link securityFailure}
 * reports as the run's last line (so the user reads one line, not three).
 *
 * @example
 * ```ts
 * isSecurityLogNoise('kafkajs error: Connection error: self-signed certificate'); // true
 * ```
 */
export function isSecurityLogNoise(line: string): boolean {
  return /SaslAuthenticate|SASL .*(authentication failed|mechanism is not supported)|current SASL state|certificate|secure TLS connection/i.test(line);
}
