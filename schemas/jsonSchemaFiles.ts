import { CATALOG, jsonSchemas } from './catalog.ts';

/** The dialect the exported files declare: TypeBox emits draft-07-compatible schemas (`const`, `anyOf`). */
export const JSON_SCHEMA_DIALECT = 'http://json-schema.org/draft-07/schema#';

/**
 * The JSON Schema files for consumers outside TypeScript, by file name: one
 * `<Type>.v<N>.json` per event type and version, plus `catalog.json` listing each type's
 * entity, current version and readable versions. Pure and deterministic, so a test can
 * check that the committed files are current.
 */
export function jsonSchemaFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [key, schema] of Object.entries(jsonSchemas())) {
    const { $id, ...rest } = schema as Record<string, unknown>;
    // Dropping TypeBox's symbol-keyed metadata is JSON.stringify's job; the key order is fixed here.
    const document = { $schema: JSON_SCHEMA_DIALECT, $id: `${key}.json`, title: String($id ?? key), ...rest };
    files.set(`${key}.json`, `${JSON.stringify(document, null, 2)}\n`);
  }
  const catalog: Record<string, unknown> = {};
  for (const [type, entry] of Object.entries(CATALOG)) {
    catalog[type] = {
      entityType: entry.entityType,
      current: entry.current,
      versions: [...entry.versions.keys()]
        .sort((a, b) => a - b)
        .map((v) => ({ version: v, schema: `${type}.v${v}.json` })),
    };
  }
  files.set('catalog.json', `${JSON.stringify(catalog, null, 2)}\n`);
  return files;
}
