/**
 * Where the `tributary.Event` schema lives and how it is loaded: the path of
 * `schema/event.avsc`, its parsed JSON, and its avsc `Type`, each found or built once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avsc from 'avsc';
import type { Type } from 'avsc';

let schemaPath: string | undefined;
let eventSchema: Record<string, unknown> | undefined;
let eventType: Type | undefined;

/**
 * The absolute path of `schema/event.avsc`, found by walking up from this module to the
 * package root (a directory with `package.json` and `schema/event.avsc`), so it works from
 * `lib/serde/` (sources) and `dist/lib/serde/` (compiled) alike.
 *
 * @example
 * ```ts
 * avroEventSchemaPath(); // '/work/main/schema/event.avsc'
 * ```
 */
export function avroEventSchemaPath(): string {
  if (schemaPath !== undefined) return schemaPath;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'schema', 'event.avsc');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) {
      schemaPath = candidate;
      return candidate;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`schema/event.avsc not found above ${dirname(fileURLToPath(import.meta.url))}`);
    dir = parent;
  }
}

/**
 * The parsed `schema/event.avsc` (JSON), e.g. to register with a schema registry.
 *
 * @example
 * ```ts
 * const schema = avroEventSchema(); // { type: 'record', name: 'Event', namespace: 'tributary', … }
 * await registry.register(JSON.stringify(schema));
 * ```
 */
export function avroEventSchema(): Record<string, unknown> {
  eventSchema ??= JSON.parse(readFileSync(avroEventSchemaPath(), 'utf8')) as Record<string, unknown>;
  return eventSchema;
}

/**
 * The avsc `Type` of `tributary.Event` (loaded once, with `wrapUnions: true`). Use it as the
 * reader type when resolving another writer schema; encode and decode events with
 * {@link encodeAvroEvent} / {@link decodeAvroEvent}, which convert to and from plain events.
 *
 * @example
 * ```ts
 * const type = avroEventType();
 * type.name; // 'tributary.Event'
 * ```
 */
export function avroEventType(): Type {
  eventType ??= avsc.Type.forSchema(avroEventSchema() as avsc.Schema, { wrapUnions: true });
  return eventType;
}
