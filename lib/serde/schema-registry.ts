/**
 * A small Confluent Schema Registry client: fetch a writer schema by
 * id (`GET /schemas/ids/{id}`) and register a schema under a subject
 * (`POST /subjects/{subject}/versions`). Both are cached for the life of the client — a schema
 * id never changes meaning, and registering the same schema twice gives the same id — and
 * concurrent calls for the same id or schema share one request, so a partition's worth of
 * records with a new schema id costs one round trip.
 *
 * Only Avro schemas are supported (a `schemaType` of `PROTOBUF` or `JSON` is an error).
 * HTTP basic auth with `basicAuth`, or with credentials in the URL (`https://user:password@host`),
 * which are taken out of it: errors show the URL without them.
 */
import avsc from 'avsc';
import type { Type } from 'avsc';

/**
 * Options of {@link SchemaRegistryClient}.
 *
 * @example
 * ```ts
 * const options: SchemaRegistryOptions = { timeoutMs: 5_000 };
 * ```
 */
export interface SchemaRegistryOptions {
  /** The `fetch` to use (tests, proxies, auth headers). Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Abort a request after this many ms. Default 10 000. */
  timeoutMs?: number;
  /** HTTP basic auth (Confluent's `basic.auth.user.info`); wins over credentials in the URL. */
  basicAuth?: { username: string; password: string };
}

/** The URL without credentials, and the credentials it had. */
function splitCredentials(url: string): { url: string; basicAuth?: { username: string; password: string } } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url };
  }
  if (parsed.username === '' && parsed.password === '') return { url };
  const basicAuth = { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) };
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.href, basicAuth };
}

/**
 * A failed registry request. `status` is the HTTP status (undefined when no response came:
 * connection refused, DNS, timeout); `errorCode` and `registryMessage` are the registry's
 * `error_code` and `message` when its error body had them.
 *
 * @example
 * ```ts
 * try { await registry.schemaById(7); } catch (err) {
 *   if (err instanceof SchemaRegistryError && err.status === 404) console.error('no schema 7');
 * }
 * ```
 */
export class SchemaRegistryError extends Error {
  override readonly name = 'SchemaRegistryError';
  constructor(
    message: string,
    readonly url: string,
    readonly status: number | undefined,
    readonly errorCode: number | undefined,
    readonly registryMessage: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The registry answered for a schema id, but with a schema this client cannot read records with
 * (another schema type, no schema text, a schema that is not valid Avro). The record that names
 * the id is what is wrong, not the registry: its decoder makes it a dead letter. Remembered per id.
 *
 * @example
 * ```ts
 * try { await registry.schemaById(7); } catch (err) {
 *   if (err instanceof UnusableSchemaError) console.error(`schema ${err.id}: ${err.message}`);
 * }
 * ```
 */
export class UnusableSchemaError extends Error {
  override readonly name = 'UnusableSchemaError';
  constructor(message: string, readonly id: number, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The registry's media type for requests and responses. */
const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A Confluent Schema Registry client with per-id and per-subject+schema caches.
 *
 * @example
 * ```ts
 * const registry = new SchemaRegistryClient('http://localhost:8081');
 * const id = await registry.register('behavior-events-value', avroEventSchema()); // e.g. 1
 * const writer = await registry.schemaById(id);   // avsc Type, cached
 * registry.cachedSchemaById(id) === writer;       // true: no request
 * ```
 */
export class SchemaRegistryClient {
  private readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;
  private readonly authorization: string | undefined;
  private readonly byId = new Map<number, Type>();
  private readonly fetching = new Map<number, Promise<Type>>();
  /** Ids the registry answered with a schema that cannot be used: not asked again. */
  private readonly unusable = new Map<number, UnusableSchemaError>();
  private readonly ids = new Map<string, Promise<number>>();

  constructor(url: string, options?: SchemaRegistryOptions) {
    const split = splitCredentials(url);
    this.baseUrl = split.url.replace(/\/+$/, '');
    const auth = options?.basicAuth ?? split.basicAuth;
    this.authorization = auth ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` : undefined;
    this.fetchFn = options?.fetch ?? globalThis.fetch;
    this.timeoutMs = options?.timeoutMs ?? 10_000;
  }

  /**
   * The writer schema with this id, as an avsc `Type` (`wrapUnions: true`). Fetched once
   * (`GET /schemas/ids/{id}`); concurrent calls share the request; a failed request is not
   * cached, so the next call retries. Rejects with a {@link SchemaRegistryError} (status 404 and
   * error_code 40403 for an unknown id), or an {@link UnusableSchemaError} (remembered: no second
   * request) when the schema is not Avro or does not parse.
   *
   * @example
   * ```ts
   * const writer = await registry.schemaById(7);
   * decodeAvroEvent(body, { writerType: writer });
   * ```
   */
  schemaById(id: number): Promise<Type> {
    const cached = this.byId.get(id);
    if (cached !== undefined) return Promise.resolve(cached);
    const unusable = this.unusable.get(id);
    if (unusable !== undefined) return Promise.reject(unusable);
    let pending = this.fetching.get(id);
    if (pending === undefined) {
      pending = this.fetchSchema(id).finally(() => this.fetching.delete(id));
      this.fetching.set(id, pending);
    }
    return pending;
  }

  /**
   * The writer schema with this id if it was fetched (or registered) before, without a request.
   * Lets a decoder stay synchronous on the common path.
   *
   * @example
   * ```ts
   * const writer = registry.cachedSchemaById(7) ?? (await registry.schemaById(7));
   * ```
   */
  cachedSchemaById(id: number): Type | undefined {
    return this.byId.get(id);
  }

  /**
   * Registers `schema` (an Avro schema as a JSON object) under `subject` and resolves with its
   * id (`POST /subjects/{subject}/versions`, body `{"schema": "<the schema as a JSON string>"}`).
   * Cached per subject and schema text; the schema also becomes {@link cachedSchemaById} of the id.
   * Rejects with a {@link SchemaRegistryError} (e.g. 409 for an incompatible schema).
   *
   * @example
   * ```ts
   * const id = await registry.register('campaign-triggers-value', derivedAvroSchema('triggers'));
   * frameConfluent(id, body);
   * ```
   */
  register(subject: string, schema: object): Promise<number> {
    const text = JSON.stringify(schema);
    const key = `${subject}\u0000${text}`;
    let pending = this.ids.get(key);
    if (pending === undefined) {
      pending = this.post(subject, text, schema);
      this.ids.set(key, pending);
      pending.catch(() => this.ids.delete(key));
    }
    return pending;
  }

  private async fetchSchema(id: number): Promise<Type> {
    if (!Number.isInteger(id) || id < 0) throw new RangeError(`schema id must be a non-negative integer, got ${id}`);
    const url = `${this.baseUrl}/schemas/ids/${id}`;
    const body = await this.request('GET', url);
    const schemaText = (body as { schema?: unknown } | null)?.schema;
    const schemaType = (body as { schemaType?: unknown } | null)?.schemaType;
    const unusable = (message: string, cause?: unknown): UnusableSchemaError => {
      const err = new UnusableSchemaError(`schema registry GET ${url}: ${message}`, id, cause === undefined ? undefined : { cause });
      this.unusable.set(id, err);
      return err;
    };
    if (schemaType !== undefined && schemaType !== 'AVRO') throw unusable(`schema ${id} is ${String(schemaType)}, not AVRO`);
    if (typeof schemaText !== 'string') throw unusable(`response has no "schema" string: ${JSON.stringify(body)?.slice(0, 200)}`);
    let type: Type;
    try {
      type = avsc.Type.forSchema(JSON.parse(schemaText) as avsc.Schema, { wrapUnions: true });
    } catch (err) {
      throw unusable(`schema ${id} is not a valid Avro schema: ${errorMessage(err)}`, err);
    }
    this.byId.set(id, type);
    return type;
  }

  private async post(subject: string, text: string, schema: object): Promise<number> {
    const url = `${this.baseUrl}/subjects/${encodeURIComponent(subject)}/versions`;
    const body = await this.request('POST', url, JSON.stringify({ schema: text }));
    const id = (body as { id?: unknown } | null)?.id;
    if (typeof id !== 'number' || !Number.isInteger(id)) throw new Error(`schema registry POST ${url}: response has no integer "id": ${JSON.stringify(body)}`);
    if (!this.byId.has(id)) {
      try {
        this.byId.set(id, avsc.Type.forSchema(schema as avsc.Schema, { wrapUnions: true }));
      } catch {
        // The registry accepted it; a later schemaById(id) fetches it and reports the problem.
      }
    }
    return id;
  }

  private async request(method: 'GET' | 'POST', url: string, body?: string): Promise<unknown> {
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method,
        headers: {
          accept: CONTENT_TYPE,
          ...(body === undefined ? {} : { 'content-type': CONTENT_TYPE }),
          ...(this.authorization ? { authorization: this.authorization } : {}),
        },
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const why = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${this.timeoutMs}ms` : errorMessage(err);
      const cause = (err as { cause?: unknown }).cause;
      const detail = cause instanceof Error && cause.message !== '' ? `${why} (${cause.message})` : why;
      throw new SchemaRegistryError(`schema registry ${method} ${url} failed: ${detail}`, url, undefined, undefined, undefined, { cause: err });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const code = (json as { error_code?: unknown } | undefined)?.error_code;
      const msg = (json as { message?: unknown } | undefined)?.message;
      const errorCode = typeof code === 'number' ? code : undefined;
      const registryMessage = typeof msg === 'string' ? msg : undefined;
      const what =
        errorCode !== undefined || registryMessage !== undefined
          ? ` (error_code ${errorCode ?? '?'}: ${registryMessage ?? ''})`
          : text === ''
            ? ''
            : `: ${text.slice(0, 200)}`;
      const fix = res.status === 401 || res.status === 403
        ? `: ${this.authorization ? 'check the registry username and password' : 'the registry wants a login (--schema-registry-username, SCHEMA_REGISTRY_USERNAME)'}`
        : '';
      throw new SchemaRegistryError(`schema registry ${method} ${url}: HTTP ${res.status} ${res.statusText}${what}${fix}`, url, res.status, errorCode, registryMessage);
    }
    if (json === undefined) throw new SchemaRegistryError(`schema registry ${method} ${url}: HTTP ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`, url, res.status, undefined, undefined);
    return json;
  }
}
