/**
 * Compiles `wasm/instances.ts` (AssemblyScript) and writes the module, base64-encoded, into
 * `pipelines/serving/instances-wasm-binary.ts`, so that the Lambda bundle, the CLI and the tests load
 * it like any other module (no file to ship beside the code). `--check` only compares: it fails when
 * the committed module is not what the source compiles to.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { compileInstancesWasm, instancesWasmModuleText } from './wasm.ts';

const target = fileURLToPath(new URL('../pipelines/serving/instances-wasm-binary.ts', import.meta.url));
const text = instancesWasmModuleText(await compileInstancesWasm());
if (process.argv.includes('--check')) {
  const committed = await readFile(target, 'utf8');
  if (committed !== text) {
    console.error(`${target} is not what wasm/instances.ts compiles to: run npm run build:wasm`);
    process.exit(1);
  }
  console.log(`${target} is up to date`);
} else {
  await writeFile(target, text);
  console.log(`wrote ${target}`);
}
