/** Regenerates schema/driftline.config.schema.json from the zod config definition. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { configJsonSchema, JSON_SCHEMA_FILE } from '../pipelines/config/json-schema.ts';

await mkdir(dirname(JSON_SCHEMA_FILE), { recursive: true });
await writeFile(JSON_SCHEMA_FILE, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log(`wrote ${JSON_SCHEMA_FILE}`);
