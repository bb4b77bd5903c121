/**
 * onnxruntime-node as a Lambda layer, trimmed to the one platform Driftline's functions run on.
 *
 * The npm package holds every platform's native binaries (about 290 MB, over Lambda's 250 MB unzipped
 * limit); linux/x64 alone is about 47 MB. The layer is assembled at synth time from the project's
 * `node_modules` — no Docker, no network — into a staging folder keyed by the packages' versions and
 * content, and shipped as a directory asset under `nodejs/node_modules/`, which Lambda's Node.js
 * runtimes put on `NODE_PATH`.
 *
 * `NODE_PATH` only serves CommonJS `require`: a function using the layer must be bundled as CommonJS
 * (an ES module's `import 'onnxruntime-node'` does not look there) with `onnxruntime-node` and
 * `onnxruntime-common` left external ({@link ONNXRUNTIME_PACKAGES}).
 */
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { findPackageJSON } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';

/** The packages the layer provides; a function using it must leave them out of its bundle. */
export const ONNXRUNTIME_PACKAGES: readonly string[] = ['onnxruntime-node', 'onnxruntime-common'];

/** Where the linux/x64 binaries sit inside the onnxruntime-node package (loaded by a computed path). */
export const ONNXRUNTIME_LINUX_X64_DIR = 'bin/napi-v6/linux/x64';

/** The two native files onnxruntime-node needs on linux/x64. */
export const ONNXRUNTIME_LINUX_X64_FILES: readonly string[] = [
  'libonnxruntime.so.1',
  'onnxruntime_binding.node',
];

/** The folder inside a Node.js layer that Lambda puts on `NODE_PATH`. */
export const LAYER_NODE_MODULES = join('nodejs', 'node_modules');

/** Options of {@link assembleOnnxRuntimeLayer}. */
export interface OnnxRuntimeLayerContentOptions {
  /**
   * A file or folder from which `onnxruntime-node` is resolved the way Node resolves it.
   * @default - this project (the folder of this module)
   */
  readonly resolveFrom?: string;
  /**
   * The folder under which the assembled layer is staged, one subfolder per version and content.
   * @default - `driftline-layers` in the OS temp folder
   */
  readonly stagingRoot?: string;
}

/** An assembled layer folder. */
export interface OnnxRuntimeLayerContent {
  /** The folder to ship as the layer: it holds `nodejs/node_modules/onnxruntime-{node,common}`. */
  readonly directory: string;
  /** The version of onnxruntime-node in it. */
  readonly version: string;
}

interface PackageSource {
  readonly name: string;
  readonly root: string;
  readonly version: string;
}

function packageSource(name: string, from: string | URL): PackageSource {
  const manifest = findPackageJSON(name, from);
  if (manifest === undefined) {
    throw new Error(`${name} is not installed (resolved from ${String(from)}): run "npm ci"`);
  }
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown };
  if (typeof version !== 'string') throw new Error(`${manifest} has no version`);
  return { name, root: dirname(manifest), version };
}

/** Every file under `dir`, as paths relative to `base`, sorted. */
function filesUnder(dir: string, base: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path, base));
    else if (entry.isFile()) out.push(relative(base, path));
  }
  return out.sort();
}

/**
 * The files of the layer, as `[source, path inside nodejs/node_modules]`: onnxruntime-common whole;
 * of onnxruntime-node its `package.json`, `dist/` and the linux/x64 binaries, in the package's layout.
 */
function layerFiles(node: PackageSource, common: PackageSource): [string, string][] {
  const binaries = ONNXRUNTIME_LINUX_X64_FILES.map((file) => join(ONNXRUNTIME_LINUX_X64_DIR, file));
  for (const binary of binaries) {
    if (!existsSync(join(node.root, binary))) {
      throw new Error(`onnxruntime-node ${node.version} has no ${binary} in ${node.root}`);
    }
  }
  const nodeFiles = ['package.json', ...filesUnder(join(node.root, 'dist'), node.root), ...binaries];
  return [
    ...filesUnder(common.root, common.root).map((file): [string, string] => [
      join(common.root, file),
      join(common.name, file),
    ]),
    ...nodeFiles.map((file): [string, string] => [join(node.root, file), join(node.name, file)]),
  ];
}

/** Digests already computed in this process, by the files' paths, sizes and modification times. */
const digests = new Map<string, string>();

/** A digest of the files' layer paths and contents: the staging folder's name, so a change re-stages. */
function contentDigest(files: readonly [string, string][]): string {
  const key = files
    .map(([source]) => {
      const stat = statSync(source);
      return `${source}\0${stat.size}\0${stat.mtimeMs}`;
    })
    .join('\n');
  const known = digests.get(key);
  if (known !== undefined) return known;
  const hash = createHash('sha256');
  for (const [source, target] of files) {
    hash.update(`${target.split(sep).join('/')}\0${statSync(source).size}\0`);
    hash.update(readFileSync(source));
  }
  const digest = hash.digest('hex').slice(0, 16);
  digests.set(key, digest);
  return digest;
}

/**
 * Assemble the trimmed onnxruntime-node layer folder from `node_modules`, or reuse the one staged
 * before for the same versions and content. The folder is built under a temporary name and renamed
 * into place, so concurrent syntheses never see a half-written layer.
 * @throws Error when onnxruntime-node or its linux/x64 binaries are not installed
 */
export function assembleOnnxRuntimeLayer(
  options: OnnxRuntimeLayerContentOptions = {},
): OnnxRuntimeLayerContent {
  const from = options.resolveFrom === undefined ? import.meta.url : pathToFileURL(options.resolveFrom);
  const node = packageSource('onnxruntime-node', from);
  const common = packageSource('onnxruntime-common', pathToFileURL(join(node.root, 'package.json')));
  const files = layerFiles(node, common);
  const root = options.stagingRoot ?? join(tmpdir(), 'driftline-layers');
  // The asset is the `layer` folder inside: a name without dots, which CDK would read as an extension.
  const staged = join(root, `onnxruntime-node-${node.version}-linux-x64-${contentDigest(files)}`);
  const directory = join(staged, 'layer');
  if (existsSync(directory)) return { directory, version: node.version };

  const building = `${staged}.${process.pid}.${Date.now()}.partial`;
  try {
    for (const [source, target] of files) {
      const destination = join(building, 'layer', LAYER_NODE_MODULES, target);
      mkdirSync(dirname(destination), { recursive: true });
      cpSync(source, destination, { preserveTimestamps: false });
    }
    try {
      renameSync(building, staged);
    } catch (error) {
      // Another synthesis staged the same content first; theirs is as good as ours.
      if (!existsSync(directory)) throw error;
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  return { directory, version: node.version };
}

/** Properties of {@link OnnxRuntimeLayer}. */
export interface OnnxRuntimeLayerProps extends OnnxRuntimeLayerContentOptions {
  /**
   * Keep old layer versions when the layer is replaced or its stack deleted.
   * @default RemovalPolicy.DESTROY - a layer version is rebuilt from `node_modules` on every synth
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A Lambda layer version with onnxruntime-node for Node.js 24 on x86_64 (linux/x64 binaries only,
 * about 47 MB unzipped), assembled from the project's `node_modules` by {@link assembleOnnxRuntimeLayer}.
 */
export class OnnxRuntimeLayer extends lambda.LayerVersion {
  /** The version of onnxruntime-node in the layer. */
  public readonly onnxruntimeVersion: string;
  /** The assembled folder the layer asset was made from. */
  public readonly contentDirectory: string;

  constructor(scope: Construct, id: string, props: OnnxRuntimeLayerProps = {}) {
    const content = assembleOnnxRuntimeLayer(props);
    super(scope, id, {
      code: lambda.Code.fromAsset(content.directory),
      compatibleRuntimes: [lambda.Runtime.NODEJS_24_X],
      compatibleArchitectures: [lambda.Architecture.X86_64],
      description: `onnxruntime-node ${content.version} (linux/x64 only)`,
      license: 'MIT',
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.onnxruntimeVersion = content.version;
    this.contentDirectory = content.directory;
  }
}
