/** The committed WebAssembly modules are what their AssemblyScript sources compile to. */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { compileWasm, repoPath, WASM_MODULES, wasmModuleText } from '../../scripts/wasm.ts';

describe('the serving path WebAssembly modules', () => {
  it.each(WASM_MODULES.map((module) => [module.source, module] as const))(
    '%s compiles to the committed module (npm run build:wasm)',
    async (_, module) => {
      const committed = await readFile(repoPath(module.target), 'utf8');
      expect(committed).toBe(wasmModuleText(module, await compileWasm(module)));
    },
    60_000,
  );
});
