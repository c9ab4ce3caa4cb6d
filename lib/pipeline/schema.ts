/**
 * The pipeline JSON Schema, built from the operator registry so a new operator extends it.
 * The copy shipped as `schema/pipeline.schema.json` is checked against this by a test
 * (regenerate with `npm run schema`).
 */
import type { OperatorRegistry } from '../operator/contract.js';
import { DURATION_PATTERN } from '../time/duration.js';

const NAME = '^[a-z][a-z0-9-]*$';
const stringOrList = {
  oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 }],
};
const duration = { type: 'string', pattern: DURATION_PATTERN };
const scalar = { type: ['string', 'number', 'boolean', 'null'] };
const streamTarget = {
  type: 'object',
  additionalProperties: false,
  properties: {
    topic: { type: 'string', minLength: 1 },
    format: { enum: ['json', 'avro'] },
  },
};

/** The `source` object's schema. */
export const sourceSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    topic: { type: 'string', minLength: 1 },
    format: { enum: ['json', 'csv', 'avro'] },
    key: stringOrList,
    timestamp: { type: 'string', minLength: 1 },
    allowedLateness: duration,
    idleTimeout: duration,
    maxFutureSkew: duration,
    maxTimeJump: duration,
    maxFutureJump: duration,
    maxRecordBytes: { type: 'integer', minimum: 1 },
    maxRecordLines: { type: 'integer', minimum: 1 },
    mapping: {
      type: 'object',
      additionalProperties: false,
      properties: {
        fields: { type: 'object', additionalProperties: { type: 'string', minLength: 1 } },
        values: { type: 'object', additionalProperties: { type: 'object', additionalProperties: scalar } },
        defaults: { type: 'object', additionalProperties: scalar },
        types: { type: 'object', additionalProperties: { enum: ['string', 'number', 'integer', 'boolean'] } },
        messageId: { enum: ['hash', 'require'] },
        timestampFormat: { enum: ['auto', 'iso', 'epoch-ms', 'epoch-s'] },
      },
    },
  },
} as const;

/**
 * Builds the pipeline schema for the operators in `registry`.
 *
 * @example
 * ```ts
 * const schema = buildPipelineSchema(defaultRegistry);
 * ```
 */
export function buildPipelineSchema(registry: OperatorRegistry): Record<string, unknown> {
  const steps = [...registry.values()].map((op) => ({
    type: 'object',
    description: op.summary,
    additionalProperties: false,
    required: [op.name],
    properties: { [op.name]: op.optionsSchema },
  }));
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://tributary.dev/schema/pipeline.schema.json',
    title: 'Tributary pipeline',
    type: 'object',
    additionalProperties: false,
    required: ['name', 'source', 'steps'],
    properties: {
      name: { type: 'string', pattern: NAME, description: 'pipeline name; also the Kafka application id and consumer group' },
      description: { type: 'string' },
      source: sourceSchema,
      steps: { type: 'array', items: { oneOf: steps } },
      sink: streamTarget,
      outputs: { type: 'object', propertyNames: { pattern: NAME }, additionalProperties: streamTarget },
      guarantee: { enum: ['at-least-once', 'exactly-once'] },
      onProcessingError: {
        enum: ['dead-letter', 'fail'],
        description: 'a record a step throws on: dead-letter it with the error (default) or stop the run (exit 1)',
      },
      metrics: {
        type: 'object',
        additionalProperties: false,
        description: 'the operations endpoint of tributary run: /metrics, /healthz, /readyz, /state/<step>/<key> (overridden by --metrics-port / TRIBUTARY_METRICS_PORT and --metrics-host)',
        properties: {
          port: { type: 'integer', minimum: 0, maximum: 65535, description: 'port to serve on (0: any free port)' },
          host: { type: 'string', minLength: 1, description: 'address to bind (default 127.0.0.1; 0.0.0.0 to be scraped from other hosts)' },
        },
      },
      kafka: {
        type: 'object',
        additionalProperties: false,
        description: 'where to run against Kafka (overridden by --brokers / KAFKA_BROKERS and --schema-registry / SCHEMA_REGISTRY_URL)',
        properties: {
          brokers: { type: 'array', items: { type: 'string', pattern: '^[^\\s,]+:[0-9]+$' }, minItems: 1, description: 'bootstrap brokers, host:port' },
          schemaRegistry: { type: 'string', pattern: '^https?://', description: 'Confluent schema registry URL (Avro with the registry wire format)' },
          commitInterval: { type: 'string', pattern: DURATION_PATTERN, description: 'a task commits at most this often (default 100ms; --commit-interval wins)' },
          maxMessageBytes: {
            type: 'integer', minimum: 524288, maximum: 2147483647,
            description: 'bytes of key, value and headers a record written to Kafka may have (default 1048000: the brokers\' default message.max.bytes less a batch\'s own bytes); a larger output or repartition record is a dead letter (oversized). At least 512 KiB, so that every dead letter fits',
          },
          ...kafkaSecuritySchema(),
        },
      },
    },
  };
}

/**
 * `kafka.tls`, `kafka.sasl` and `kafka.schemaRegistryAuth`. Secrets are never literal in a
 * definition: a password comes from an environment variable or a file (paths relative to the
 * definition's directory).
 */
function kafkaSecuritySchema() {
  const file = { type: 'string', minLength: 1 };
  const secret = {
    passwordEnv: { type: 'string', minLength: 1, description: 'environment variable holding the password' },
    passwordFile: { ...file, description: 'file holding the password (one trailing newline is ignored)' },
  };
  return {
    tls: {
      type: ['boolean', 'object'],
      additionalProperties: false,
      description: 'TLS to the brokers: true, or { ca, cert, key, rejectUnauthorized } (--tls, --tls-ca, … win)',
      properties: {
        ca: { ...file, description: 'PEM file of the CA that signed the brokers\' certificates' },
        cert: { ...file, description: 'PEM client certificate (brokers that authenticate clients by certificate)' },
        key: { ...file, description: 'PEM key of the client certificate' },
        rejectUnauthorized: { type: 'boolean', description: 'verify the brokers\' certificates (default true)' },
      },
    },
    sasl: {
      type: 'object',
      additionalProperties: false,
      required: ['mechanism', 'username'],
      description: 'SASL login (--sasl-mechanism, --sasl-username, --sasl-password-file, KAFKA_SASL_* win); the password from passwordEnv or passwordFile, never literal',
      properties: {
        mechanism: { enum: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] },
        username: { type: 'string', minLength: 1 },
        ...secret,
      },
    },
    schemaRegistryAuth: {
      type: 'object',
      additionalProperties: false,
      required: ['username'],
      description: 'HTTP basic auth for the schema registry (--schema-registry-username, --schema-registry-password-file, SCHEMA_REGISTRY_* win)',
      properties: { username: { type: 'string', minLength: 1 }, ...secret },
    },
  };
}
