/**
 * Loading the serving path's WebAssembly modules (`wasm/`, built into `*-wasm-binary.ts`): each is
 * compiled once per process, on first use, and instantiated by whoever needs its own memory. Where
 * WebAssembly cannot run (a runtime without it, or one that refuses to compile), callers get
 * `undefined` and keep to their JavaScript code.
 */
import { Buffer } from 'node:buffer';

/**
 * What is used of the WebAssembly API (the project's TypeScript lib has no DOM types, where it is
 * declared).
 */
interface WebAssemblyApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: unknown };
}

/** A module's exported memory. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** Bytes of a WebAssembly memory page. */
const PAGE = 64 * 1024;

/** Compiled modules by their base64 bytes (`null`: did not compile). */
const compiled = new Map<string, object | null>();

/** A new instance of the module of `base64` (no imports), or `undefined` where WebAssembly cannot run. */
export function instantiateWasm(base64: string): unknown {
  const api = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  if (api === undefined) return undefined;
  let module = compiled.get(base64);
  if (module === undefined) {
    try {
      module = new api.Module(Buffer.from(base64, 'base64'));
    } catch {
      module = null;
    }
    compiled.set(base64, module);
  }
  return module === null ? undefined : new api.Instance(module, {}).exports;
}

/** Grows `memory` to at least `bytes`; returns whether it grew (views of the old buffer are then detached). */
export function growMemory(memory: WasmMemory, bytes: number): boolean {
  const pages = Math.ceil(bytes / PAGE) - memory.buffer.byteLength / PAGE;
  if (pages <= 0) return false;
  memory.grow(pages);
  return true;
}
