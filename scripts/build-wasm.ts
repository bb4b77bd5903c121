/**
 * Compiles the serving path's WebAssembly modules (`wasm/*.ts`, AssemblyScript) and writes each,
 * base64-encoded, into a TypeScript module (`pipelines/serving/*-wasm-binary.ts`), so that the Lambda
 * bundle, the CLI and the tests load them like any other module (no file to ship beside the code).
 * `--check` only compares: it fails when a committed module is not what its source compiles to.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { compileWasm, repoPath, WASM_MODULES, wasmModuleText } from './wasm.ts';

const check = process.argv.includes('--check');
let stale = false;
for (const module of WASM_MODULES) {
  const text = wasmModuleText(module, await compileWasm(module));
  if (check) {
    const committed = await readFile(repoPath(module.target), 'utf8').catch(() => '');
    if (committed !== text) {
      console.error(`${module.target} is not what ${module.source} compiles to: run npm run build:wasm`);
      stale = true;
    } else console.log(`${module.target} is up to date`);
  } else {
    await writeFile(repoPath(module.target), text);
    console.log(`wrote ${module.target}`);
  }
}
if (stale) process.exit(1);
