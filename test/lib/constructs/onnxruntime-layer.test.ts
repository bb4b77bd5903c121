import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  assembleOnnxRuntimeLayer,
  LAYER_NODE_MODULES,
  OnnxRuntimeLayer,
  type OnnxRuntimeLayerContent,
} from '../../../lib/constructs/onnxruntime-layer.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { projectApp } from '../build.ts';

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

describe('assembleOnnxRuntimeLayer', () => {
  let stagingRoot: string;
  let content: OnnxRuntimeLayerContent;
  beforeAll(async () => {
    stagingRoot = await tempDir('driftline-layer-');
    content = assembleOnnxRuntimeLayer({ stagingRoot });
  });

  it('stages onnxruntime-common whole and of onnxruntime-node only package.json, dist/ and linux/x64', () => {
    const staged = files(content.directory);

    const node = staged.filter((f) => f.startsWith('nodejs/node_modules/onnxruntime-node/'));
    expect(node.filter((f) => !f.includes('/dist/'))).toEqual([
      'nodejs/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
      'nodejs/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
      'nodejs/node_modules/onnxruntime-node/package.json',
    ]);
    expect(staged.filter((f) => !f.startsWith('nodejs/node_modules/onnxruntime-'))).toEqual([]);
    expect(staged).toContain('nodejs/node_modules/onnxruntime-common/package.json');
    expect(content.version).toBe('1.30.0');
  });

  it('reuses the folder staged for the same content', () => {
    const binding = join(
      content.directory,
      LAYER_NODE_MODULES,
      'onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
    );
    const before = statSync(binding).mtimeMs;

    const again = assembleOnnxRuntimeLayer({ stagingRoot });

    expect(again.directory).toBe(content.directory);
    expect(statSync(binding).mtimeMs).toBe(before);
    expect(readdirSync(stagingRoot)).toHaveLength(1);
  });

  it('loads in Node through NODE_PATH alone and runs the native binding', async () => {
    const cwd = await tempDir('driftline-layer-load-');

    const run = spawnSync(
      process.execPath,
      [
        '-e',
        [
          "const ort = require('onnxruntime-node');",
          "const binding = Object.keys(require.cache).find((f) => f.endsWith('onnxruntime_binding.node'));",
          'console.log(JSON.stringify({ binding, tensor: new ort.Tensor("float32", [1, 2], [2]).dims }));',
        ].join(' '),
      ],
      {
        cwd,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, NODE_PATH: join(content.directory, LAYER_NODE_MODULES) },
      },
    );

    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({
      binding: join(
        content.directory,
        LAYER_NODE_MODULES,
        'onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
      ),
      tensor: [2],
    });
  });
});

describe('OnnxRuntimeLayer', () => {
  it('is a layer for nodejs24.x on x86_64 that names the onnxruntime version', () => {
    const stack = new Stack(projectApp(), 'Test');

    const layer = new OnnxRuntimeLayer(stack, 'Ort');

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleRuntimes: ['nodejs24.x'],
      CompatibleArchitectures: ['x86_64'],
      Description: 'onnxruntime-node 1.30.0 (linux/x64 only)',
      LicenseInfo: 'MIT',
    });
    expect(layer.onnxruntimeVersion).toBe('1.30.0');
  });
});
