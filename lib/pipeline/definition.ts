/**
 * The shape of a pipeline definition, as written in YAML/JSON or built with
 * {@link ../pipeline/builder.ts}. Validated against `schema/pipeline.schema.json`.
 */
import type { SourceFormat, SourceMapping } from '../event/mapping.js';
import type { Duration } from '../time/duration.js';

/** Where events come from. */
export interface SourceDefinition {
  /** Kafka topic (embedded mode: `--input` instead). */
  topic?: string;
  /** Record format. Default `json`; `csv` for embedded files. */
  format?: SourceFormat;
  /** Partitioning key: a field path or list of paths after mapping (first non-null); none → dead-letter. */
  key?: string | string[];
  /** Raw field holding event time; shorthand for `mapping.fields.timestamp`. Default `timestamp`. */
  timestamp?: string;
  /** Bounded out-of-orderness: watermark = highest event time − allowedLateness. Default `0ms`. */
  allowedLateness?: Duration;
  /** A partition silent this long (processing time) stops holding the watermark back. Default `30s`. */
  idleTimeout?: Duration;
  /**
   * An event whose time is more than this ahead of processing time goes to dead-letter
   * (`future-timestamp`) and does not move the watermark. Default `1d`.
   */
  maxFutureSkew?: Duration;
  /**
   * An event whose time is more than this ahead of its input partition (the median of the
   * partition's last 15 records) goes to dead-letter (`time-jump`) and does not move the
   * watermark: a record dated today in a replay of last year's data. A real jump is taken from
   * its 9th record on. Default `30d`.
   */
  maxTimeJump?: Duration;
  /**
   * An event dated more than this after processing time *and* more than this ahead of its input
   * partition (the median of its last 15 records) goes to dead-letter (`time-jump`): in a live
   * stream, one record dated tomorrow within `maxFutureSkew` would move the watermark and send
   * the partition's next day to `late`. Default `1h`.
   */
  maxFutureJump?: Duration;
  /** Records larger than this go to dead-letter (`oversized`). Default 1 MiB. */
  maxRecordBytes?: number;
  /**
   * CSV input: how many lines a record may span (a quoted cell holding line breaks). Default 1:
   * a quote left open at the end of its line costs that line only. Other formats ignore it.
   */
  maxRecordLines?: number;
  /** Field mapping from other layouts (snake_case, CSV columns) onto the canonical event. */
  mapping?: SourceMapping;
}

/** One step: exactly one operator key with its options, e.g. `{ dedupe: { ttl: '24h' } }`. */
export type StepDefinition = Record<string, Record<string, unknown>>;

/** Where a stream goes in Kafka mode; embedded, every stream goes to `<out-dir>/<stream>.ndjson`. */
export interface StreamTarget {
  topic?: string;
  format?: 'json' | 'avro';
}

/** A whole pipeline. */
export interface PipelineDefinition {
  /** Also the Kafka application id and consumer group id. */
  name: string;
  description?: string;
  source: SourceDefinition;
  steps: StepDefinition[];
  /** The events leaving the last step (the stream `events`). */
  sink?: StreamTarget;
  /** Named derived streams → their targets. */
  outputs?: Record<string, StreamTarget>;
  /** Kafka delivery guarantee. Default `at-least-once`. */
  guarantee?: 'at-least-once' | 'exactly-once';
  /**
   * What a record does when a step throws while processing it (an operator bug, a key the state
   * store cannot hold): `dead-letter` (default) writes it to `dead-letter` with reason
   * `processing-error` (or `invalid-key`) and the error message, and the run goes on;
   * `fail` stops the run (exit 1) without committing past the record.
   */
  onProcessingError?: 'dead-letter' | 'fail';
  /**
   * The operations endpoint (`/metrics`, `/healthz`, `/readyz`, `/state/<step>/<key>`) of `tributary
   * run` (the CLI's `--metrics-port` / `TRIBUTARY_METRICS_PORT` and `--metrics-host` win).
   */
  metrics?: {
    port?: number;
    /** Default `127.0.0.1`; `0.0.0.0` to be scraped from other hosts. */
    host?: string;
  };
  /** Kafka connection defaults (the CLI's `--brokers` / `KAFKA_BROKERS` win). */
  kafka?: {
    brokers?: string[];
    schemaRegistry?: string;
    /** A task commits at most this often (default `100ms`; the CLI's `--commit-interval` wins). */
    commitInterval?: Duration;
    /**
     * Bytes of key, value and headers a record written to Kafka may have (default 1,048,000: the
     * brokers' default `message.max.bytes` less a batch's own bytes); a larger output or
     * repartition record is a dead letter (`oversized`).
     */
    maxMessageBytes?: number;
    /** TLS to the brokers; file paths are relative to the definition's directory. */
    tls?: boolean | { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
    /** SASL login; the password from an environment variable or a file, never literal. */
    sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string } & SecretRef;
    /** HTTP basic auth for the schema registry. */
    schemaRegistryAuth?: { username: string } & SecretRef;
  };
}

/** Streams every pipeline has. */
export const BUILTIN_STREAMS = ['events', 'dead-letter', 'late', 'forgotten'] as const;

/** Where a password is: an environment variable or a file (relative to the definition's directory). */
export interface SecretRef {
  passwordEnv?: string;
  passwordFile?: string;
}
