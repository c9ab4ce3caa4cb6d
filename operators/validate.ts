/**
 * `validate`: checks each event against the canonical Avro schema
 * (`schema: avro`, the one in `schema/event.avsc`) or a JSON Schema (inline `jsonSchema`, or
 * `jsonSchemaFile`, a file inside the working directory, read when the pipeline loads). An event that fails goes to `dead-letter` as
 * `{ reason: 'invalid-schema', detail, raw, source }` and is counted; the pipeline goes on.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import type { OperatorFunction } from 'rxjs';
import type { TributaryEvent } from '../lib/event/event.js';
import { defineStatelessOperator, type OperatorContext, type OperatorLogic } from '../lib/operator/contract.js';
import { keyedOperator, type IncomingEvent, type RxWiringOptions } from '../lib/operator/rx.js';
import { encodeAvroEvent } from '../lib/serde/avro.js';
import { readSchemaFile } from './validate-schema-file.js';

/** Options of `validate`: exactly one of `schema: avro`, `jsonSchema`, `jsonSchemaFile`. */
export interface ValidateOptions {
  schema?: 'avro';
  jsonSchema?: Record<string, unknown>;
  /** Path of a JSON Schema file (at most 1 MiB), relative to the working directory and inside it. */
  jsonSchemaFile?: string;
  name?: string;
}

export interface ValidateConfig {
  check: (event: TributaryEvent) => string | undefined;
}

/** A JSON Schema checker: undefined when valid, else every error as `path: message`. */
function jsonChecker(schema: Record<string, unknown>, where: string): ValidateConfig['check'] {
  let validate: ValidateFunction;
  try {
    validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  } catch (e) {
    throw new Error(`${where}: not a valid JSON Schema: ${(e as Error).message}`, { cause: e });
  }
  return (event) =>
    validate(event) ? undefined : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`).join('; ');
}

/**
 * @example
 * ```ts
 * const logic = new ValidateLogic(validateOperator.resolve({ schema: 'avro' }), ctx);
 * logic.process(event, ''); // the event, or null and a dead letter
 * ```
 */
export class ValidateLogic implements OperatorLogic {
  constructor(private readonly config: ValidateConfig, private readonly ctx: OperatorContext) {}

  process(event: TributaryEvent): TributaryEvent | null {
    const problem = this.config.check(event);
    if (problem === undefined) return event;
    this.ctx.drop('invalid-schema');
    this.ctx.emit('dead-letter', { reason: 'invalid-schema', detail: problem, raw: JSON.stringify(event), source: `step ${this.ctx.step}` });
    return null;
  }
}

export const validateOperator = defineStatelessOperator<ValidateOptions, ValidateConfig>({
  name: 'validate',
  summary: 'check events against the Avro event schema or a JSON Schema; failures to dead-letter',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      schema: { enum: ['avro'] },
      jsonSchema: { type: 'object' },
      jsonSchemaFile: { type: 'string', minLength: 1 },
      name: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
    },
  },
  resolve(o) {
    const given = [o.schema, o.jsonSchema, o.jsonSchemaFile].filter((x) => x !== undefined).length;
    if (given !== 1) throw new Error('give exactly one of schema: avro, jsonSchema or jsonSchemaFile');
    if (o.schema === 'avro') {
      return {
        check: (event) => {
          try {
            encodeAvroEvent(event);
            return undefined;
          } catch (e) {
            return (e as Error).message;
          }
        },
      };
    }
    if (o.jsonSchema) return { check: jsonChecker(o.jsonSchema, 'jsonSchema') };
    const schema = readSchemaFile(o.jsonSchemaFile as string);
    return { check: jsonChecker(schema, `jsonSchemaFile ${o.jsonSchemaFile}`) };
  },
  create: (c, ctx) => new ValidateLogic(c, ctx),
});

/**
 * `validate` as an RxJS operator; invalid events go to `outputs['dead-letter']`.
 *
 * @example
 * ```ts
 * events$.pipe(validateEvents({ schema: 'avro', outputs: { 'dead-letter': (d) => log.warn(d) } }));
 * ```
 */
export function validateEvents(options: ValidateOptions & RxWiringOptions): OperatorFunction<IncomingEvent, TributaryEvent> {
  return keyedOperator(validateOperator, options);
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    validate: ValidateOptions;
  }
}
