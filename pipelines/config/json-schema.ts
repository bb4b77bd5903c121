/** The JSON Schema of `driftline.config.json`, generated from the zod definition for editors. */
import { z } from 'zod';
import { configSchema } from './schema.ts';

/** Path of the generated schema, relative to the repository root. */
export const JSON_SCHEMA_FILE = 'schema/driftline.config.schema.json';

/** The schema of what a user may write (fields with defaults are optional). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    $id: 'https://driftline.dev/schema/driftline.config.schema.json',
    title: 'Driftline configuration (driftline.config.json)',
  };
}
