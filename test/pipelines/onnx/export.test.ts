import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { Task } from '../../../pipelines/config/schema.ts';
import { InputError } from '../../../pipelines/errors.ts';
import { OnnxModel } from '../../../pipelines/model/onnx-model.ts';
import { type Prediction, predictRows } from '../../../pipelines/model/predict.ts';
import type { RawRow } from '../../../pipelines/model/raw.ts';
import type { LinearModel, TrainedModel, Tree, TreeEnsembleModel } from '../../../pipelines/model/types.ts';
import { exportOnnx, ONNX_VERSIONS, readOnnxMetadata } from '../../../pipelines/onnx/export.ts';
import { onnxProto } from '../../../pipelines/onnx/graph.ts';
import { featureSchemaHash, METADATA_KEYS } from '../../../pipelines/onnx/metadata.ts';
import { DRIFTLINE_VERSION } from '../../../pipelines/version.ts';
import { checkOnnxModel } from '../../helpers/onnx-checker.ts';
import { edgeRows, syntheticDataset, trainedGbdt, trainedLinear } from '../../helpers/onnx-fixtures.ts';
import { predictOnnx, runOnnx } from '../../helpers/onnx-runtime.ts';

const TASKS: readonly Task[] = ['binary', 'multiclass', 'regression'];
const TOLERANCE = 1e-5;

/** Asserts onnxruntime's predictions equal the JS reference's: labels identical, numbers within 1e-5. */
function expectSamePredictions(onnx: readonly Prediction[], reference: readonly Prediction[]): void {
  expect(onnx).toHaveLength(reference.length);
  reference.forEach((want, i) => {
    const got = onnx[i];
    if ('value' in want) {
      if (got === undefined || !('value' in got)) throw new Error(`row ${i}: expected a value`);
      // float32 graph vs float64 reference: relative error for large values.
      expect(Math.abs(got.value - want.value), `row ${i}`).toBeLessThanOrEqual(
        TOLERANCE * Math.max(1, Math.abs(want.value)),
      );
      return;
    }
    if (got === undefined || !('label' in got)) throw new Error(`row ${i}: expected a label`);
    expect(got.label, `row ${i}`).toBe(want.label);
    expect(got.probabilities).toHaveLength(want.probabilities.length);
    want.probabilities.forEach((p, k) => {
      expect(Math.abs((got.probabilities[k] as number) - p), `row ${i} class ${k}`).toBeLessThanOrEqual(
        TOLERANCE,
      );
    });
  });
}

async function expectRuntimeMatchesReference(
  model: TrainedModel,
  rows: readonly RawRow[],
): Promise<Uint8Array> {
  const bytes = exportOnnx(model, { datasetVersion: 'a'.repeat(64) });
  checkOnnxModel(bytes);
  expectSamePredictions(
    await predictOnnx(bytes, model.features, rows, model.classes),
    predictRows(model, rows),
  );
  return bytes;
}

function leaf(value: number): Tree {
  return {
    featureIndex: Int32Array.of(0),
    threshold: Float32Array.of(0),
    missingGoesLeft: Uint8Array.of(0),
    left: Int32Array.of(-1),
    right: Int32Array.of(-1),
    leafValue: Float64Array.of(value),
  };
}

/** Splits on `feature < threshold`, NaN going left or right, with two leaves. */
function stump(
  feature: number,
  threshold: number,
  missingLeft: boolean,
  leftValue: number,
  rightValue: number,
): Tree {
  return {
    featureIndex: Int32Array.of(feature, 0, 0),
    threshold: Float32Array.of(threshold, 0, 0),
    missingGoesLeft: Uint8Array.of(missingLeft ? 1 : 0, 0, 0),
    left: Int32Array.of(1, -1, -1),
    right: Int32Array.of(2, -1, -1),
    leafValue: Float64Array.of(0, leftValue, rightValue),
  };
}

const HAND_FEATURES: TreeEnsembleModel['features'] = [
  { name: 'x', type: 'numeric' },
  {
    name: 'color',
    type: 'categorical',
    categories: ['red', 'green', 'blue'],
    codes: [2, 0, 3],
    unknownCode: 1,
  },
];

function handTrees(task: Task): TreeEnsembleModel {
  const outputs = task === 'multiclass' ? 3 : 1;
  const trees: Tree[] = [];
  const treeOutput: number[] = [];
  for (let k = 0; k < outputs; k++) {
    trees.push(stump(0, 0.1 * (k + 1), k % 2 === 0, 0.4 - 0.3 * k, -0.2 + 0.25 * k));
    trees.push(stump(1, 1.5 + k, k % 2 === 1, -0.5 + 0.2 * k, 0.6 - 0.1 * k));
    treeOutput.push(k, k);
  }
  return {
    kind: 'gbdt',
    task,
    features: HAND_FEATURES,
    classes: task === 'binary' ? ['no', 'yes'] : task === 'multiclass' ? ['a', 'b', 'c'] : [],
    baseScore: Array.from({ length: outputs }, (_, k) => 0.05 * (k + 1)),
    trees,
    treeOutput: Int32Array.from(treeOutput),
  };
}

function handLinear(task: Task): LinearModel {
  const outputs = task === 'multiclass' ? 3 : 1;
  return {
    kind: 'linear',
    task,
    features: [
      { name: 'x', type: 'numeric' },
      {
        name: 'color',
        type: 'categorical',
        categories: ['red', 'green', 'blue'],
        codes: [1, 0, 2],
        unknownCode: -1,
      },
      { name: 'y', type: 'numeric' },
    ],
    classes: task === 'binary' ? ['no', 'yes'] : task === 'multiclass' ? ['a', 'b', 'c'] : [],
    inputMean: Float64Array.of(0.5, 0.2, 0.3, 0.1, -2),
    inputScale: Float64Array.of(2, 0.4, 0.5, 0.3, 1.5),
    weights: Array.from({ length: outputs }, (_, k) => Float64Array.of(1 - k, 0.5 * k, -0.7, 0.3 + k, 0.2)),
    bias: Array.from({ length: outputs }, (_, k) => 0.1 * k - 0.05),
  };
}

const HAND_ROWS: RawRow[] = [
  { x: 0.05, color: 'red', y: 1 },
  { x: 0.25, color: 'green', y: -3 },
  { x: 0.5, color: 'blue', y: 0 },
  { x: null, color: 'purple', y: 2 },
  { color: null },
  { x: 0.1, color: '', y: null },
  { x: 0.3, y: 0.5 },
  { x: -10, color: 'RED', y: 100 },
];

describe('exportOnnx: onnxruntime-node agrees with the JS reference', () => {
  for (const task of TASKS) {
    it(`hand-built ${task} tree ensemble, incl. missing and unseen values`, async () => {
      await expectRuntimeMatchesReference(handTrees(task), HAND_ROWS);
    });

    it(`hand-built ${task} linear model, incl. missing and unseen values`, async () => {
      await expectRuntimeMatchesReference(handLinear(task), HAND_ROWS);
    });

    it(`trained ${task} GBDT on training rows and edge rows`, async () => {
      // Prepare
      const model = trainedGbdt(task);
      const rows = [...syntheticDataset(task, 150, 99).rows, ...edgeRows()];
      // Act / Assess
      await expectRuntimeMatchesReference(model, rows);
    });

    it(`trained ${task} linear model on training rows and edge rows`, async () => {
      const model = trainedLinear(task);
      const rows = [...syntheticDataset(task, 150, 99).rows, ...edgeRows()];
      await expectRuntimeMatchesReference(model, rows);
    });
  }

  it('applies the logistic even when every leaf weight is positive (binary)', async () => {
    // onnxruntime's TreeEnsembleClassifier would read such raw scores as probabilities.
    const model: TreeEnsembleModel = {
      ...handTrees('binary'),
      baseScore: [-1],
      trees: [stump(0, 0.2, true, 0.3, 0.9)],
      treeOutput: Int32Array.of(0),
    };
    const bytes = await expectRuntimeMatchesReference(model, HAND_ROWS);
    const out = await runOnnx(bytes, model.features, [{ x: 0 }]);
    expect(out.probabilities?.[1]).toBeCloseTo(1 / (1 + Math.exp(-(-1 + 0.3))), 6);
  });

  it('gives the first class on an exact tie, like the reference', async () => {
    const model: TreeEnsembleModel = {
      ...handTrees('binary'),
      baseScore: [0],
      trees: [leaf(0)],
      treeOutput: Int32Array.of(0),
    };
    const bytes = await expectRuntimeMatchesReference(model, HAND_ROWS);
    const out = await runOnnx(bytes, model.features, [{ x: 1 }]);
    expect(out.label).toEqual(['no']);
    expect(Array.from(out.probabilities ?? [])).toEqual([0.5, 0.5]);
  });

  it('exports an ensemble without trees, or with an output without trees, with its base scores', async () => {
    // onnxruntime drops the base value of an output no leaf writes to; the exporter must cover it.
    const base = handTrees('multiclass');
    const empty: TreeEnsembleModel = {
      ...base,
      baseScore: [0.1, 0.5, -0.2],
      trees: [],
      treeOutput: new Int32Array(),
    };
    await expectRuntimeMatchesReference(empty, HAND_ROWS);
    const partial: TreeEnsembleModel = {
      ...base,
      baseScore: [0.1, 0.5, 2],
      trees: base.trees.slice(0, 2),
      treeOutput: Int32Array.of(0, 0),
    };
    await expectRuntimeMatchesReference(partial, HAND_ROWS);
  });

  it('exports single-feature models (no Concat)', async () => {
    const color = HAND_FEATURES[1] as TreeEnsembleModel['features'][number];
    const trees: TreeEnsembleModel = {
      ...handTrees('regression'),
      features: [color],
      trees: [stump(0, 1.5, true, -1, 1)],
      treeOutput: Int32Array.of(0),
    };
    await expectRuntimeMatchesReference(trees, HAND_ROWS);
    const linear: LinearModel = {
      ...handLinear('regression'),
      features: [{ name: 'x', type: 'numeric' }],
      inputMean: Float64Array.of(0.5),
      inputScale: Float64Array.of(2),
      weights: [Float64Array.of(3)],
    };
    await expectRuntimeMatchesReference(linear, HAND_ROWS);
  });

  it('accepts feature names that are not identifiers', async () => {
    const model: LinearModel = {
      ...handLinear('binary'),
      features: [
        { name: 'a b/c:d', type: 'numeric' },
        {
          name: 'constructor',
          type: 'categorical',
          categories: ['x', 'y', 'z'],
          codes: [0, 1, 2],
          unknownCode: -1,
        },
        { name: 'matmul_0', type: 'numeric' },
      ],
    };
    const rows: RawRow[] = [{ 'a b/c:d': 1, constructor: 'y', matmul_0: 3 }, { 'a b/c:d': 2 }, {}];
    await expectRuntimeMatchesReference(model, rows);
  });
});

describe('exportOnnx: the model contract', () => {
  it('declares ir_version 8, opsets 17 / ml 3, one [N,1] input per feature and the contract outputs', () => {
    // Prepare
    const model = handTrees('multiclass');
    // Act
    const decoded = onnxProto.ModelProto.decode(exportOnnx(model));
    // Assess
    expect(Number(decoded.irVersion)).toBe(ONNX_VERSIONS.irVersion);
    expect(decoded.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([
      ['', 17],
      ['ai.onnx.ml', 3],
    ]);
    const graph = decoded.graph;
    const shape = (v: {
      type?: {
        tensorType?: {
          elemType?: number | null;
          shape?: { dim?: { dimParam?: string | null; dimValue?: unknown }[] | null } | null;
        } | null;
      } | null;
    }) => ({
      elemType: v.type?.tensorType?.elemType,
      dims: (v.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam || Number(d.dimValue)),
    });
    const T = onnxProto.TensorProto.DataType;
    expect((graph?.input ?? []).map((i) => [i.name, shape(i)])).toEqual([
      ['x', { elemType: T.FLOAT, dims: ['N', 1] }],
      ['color', { elemType: T.STRING, dims: ['N', 1] }],
    ]);
    expect((graph?.output ?? []).map((o) => [o.name, shape(o)])).toEqual([
      ['label', { elemType: T.STRING, dims: ['N'] }],
      ['probabilities', { elemType: T.FLOAT, dims: ['N', 3] }],
    ]);
    expect((graph?.node ?? []).map((n) => n.opType)).not.toContain('ZipMap');
  });

  it('outputs variable [N,1] for regression and label [N] / probabilities [N,C] for classification', async () => {
    const rows = HAND_ROWS.slice(0, 3);
    const regression = await runOnnx(
      exportOnnx(handLinear('regression')),
      handLinear('regression').features,
      rows,
    );
    expect(regression.dims).toEqual({ variable: [3, 1] });
    const binary = await runOnnx(exportOnnx(handTrees('binary')), HAND_FEATURES, rows);
    expect(binary.dims).toEqual({ label: [3], probabilities: [3, 2] });
  });

  it('records version, schema hash, dataset version, task and classes in metadata_props', () => {
    const model = handTrees('binary');
    const meta = readOnnxMetadata(exportOnnx(model, { datasetVersion: 'b'.repeat(64) }));
    expect(meta).toEqual({
      [METADATA_KEYS.version]: DRIFTLINE_VERSION,
      [METADATA_KEYS.schema]: '[{"name":"x","type":"numeric"},{"name":"color","type":"categorical"}]',
      [METADATA_KEYS.schemaHash]: featureSchemaHash([
        { name: 'x', type: 'numeric' },
        { name: 'color', type: 'categorical' },
      ]),
      [METADATA_KEYS.task]: 'binary',
      [METADATA_KEYS.modelKind]: 'gbdt',
      [METADATA_KEYS.classes]: '["no","yes"]',
      [METADATA_KEYS.datasetVersion]: 'b'.repeat(64),
    });
    expect(meta[METADATA_KEYS.schemaHash]).toMatch(/^[0-9a-f]{64}$/);
    expect(readOnnxMetadata(exportOnnx(model))[METADATA_KEYS.datasetVersion]).toBeUndefined();
  });

  it('loads in onnxruntime with the feature names as inputs', async () => {
    const session = await ort.InferenceSession.create(exportOnnx(handLinear('multiclass')));
    expect(session.inputNames).toEqual(['x', 'color', 'y']);
    expect(session.outputNames).toEqual(['label', 'probabilities']);
    await session.release();
  });
});

describe('exportOnnx: determinism', () => {
  for (const task of TASKS) {
    it(`exports the same ${task} model to identical bytes`, () => {
      const gbdt = trainedGbdt(task, 200, 3);
      const linear = trainedLinear(task, 200, 3);
      expect(exportOnnx(gbdt)).toEqual(exportOnnx(trainedGbdt(task, 200, 3)));
      expect(exportOnnx(linear)).toEqual(exportOnnx(trainedLinear(task, 200, 3)));
      // A structurally cloned model (another allocation of the same numbers) too.
      expect(exportOnnx(structuredClone(gbdt))).toEqual(exportOnnx(gbdt));
    });
  }
});

describe('checkOnnxModel (test helper)', () => {
  it("fails with the checker's message on an invalid model", () => {
    const invalid = onnxProto.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: { name: 'broken', node: [{ opType: 'NoSuchOperator', input: ['x'], output: ['y'] }] },
    }).finish();
    expect(() => checkOnnxModel(invalid)).toThrow(
      /check_model\(full_check=True\) rejected the model:[\s\S]*NoSuchOperator/,
    );
  });
});

describe('exportOnnx: refuses models it cannot serve', () => {
  it('rejects a feature named like an output', () => {
    const model: LinearModel = {
      ...handLinear('regression'),
      features: [{ name: 'variable', type: 'numeric' }],
      inputMean: Float64Array.of(0),
      inputScale: Float64Array.of(1),
      weights: [Float64Array.of(1)],
    };
    expect(() => exportOnnx(model)).toThrow(InputError);
    expect(() => exportOnnx(model)).toThrow(/name of a model output/);
  });

  it('rejects the empty string as a category (it means missing)', () => {
    const model: TreeEnsembleModel = {
      ...handTrees('binary'),
      features: [
        HAND_FEATURES[0] as TreeEnsembleModel['features'][number],
        { name: 'color', type: 'categorical', categories: ['red', ''], codes: [0, 1], unknownCode: 2 },
      ],
    };
    expect(() => exportOnnx(model)).toThrow(/empty string as a category/);
  });

  it('rejects a linear model whose categorical codes are not indices', () => {
    const base = handLinear('binary');
    const model: LinearModel = {
      ...base,
      features: [
        base.features[0] as LinearModel['features'][number],
        {
          name: 'color',
          type: 'categorical',
          categories: ['red', 'green', 'blue'],
          codes: [3, 1, 0],
          unknownCode: -1,
        },
        base.features[2] as LinearModel['features'][number],
      ],
    };
    expect(() => exportOnnx(model)).toThrow(/codes 0\.\.2/);
  });

  it('rejects weights that do not match the expanded inputs', () => {
    const model: LinearModel = { ...handLinear('binary'), weights: [Float64Array.of(1, 2)] };
    expect(() => exportOnnx(model)).toThrow(/weights need 1 rows of 5 values/);
  });

  it('rejects a tree whose child comes before its parent', () => {
    const cyclic: Tree = { ...stump(0, 0.5, true, 1, 2), left: Int32Array.of(1, 0, -1) };
    const model: TreeEnsembleModel = {
      ...handTrees('regression'),
      trees: [cyclic],
      treeOutput: Int32Array.of(0),
    };
    expect(() => exportOnnx(model)).toThrow(/child out of order/);
  });

  it('rejects a wrong number of classes', () => {
    expect(() => exportOnnx({ ...handTrees('binary'), classes: ['only'] })).toThrow(
      /needs exactly 2 classes/,
    );
  });
});

describe('OnnxModel.load: refuses a class list the serving path cannot write', () => {
  it('names the class listed twice', async () => {
    const bytes = await readFile(new URL('../../fixtures/models/binary-gbdt.onnx', import.meta.url));
    // Same length, so the protobuf stays valid: ["stay","churn"] → ["stay","stay"] + one space.
    const patched = Buffer.from(
      bytes.toString('latin1').replace('["stay","churn"]', '["stay", "stay"]'),
      'latin1',
    );
    expect(patched.equals(bytes)).toBe(false);
    await expect(OnnxModel.load(patched)).rejects.toThrow(InputError);
    await expect(OnnxModel.load(patched)).rejects.toThrow(/class list names "stay" twice/);
    await expect(OnnxModel.load(bytes)).resolves.toBeInstanceOf(OnnxModel);
  });
});
