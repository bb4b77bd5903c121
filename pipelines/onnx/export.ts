/**
 * Export of a trained model to a self-contained ONNX model (see "The model contract (ONNX)" in
 * DESIGN.md): raw feature values in, prediction out, so serving needs the schema and never the
 * training code.
 *
 * - ir_version 8; opsets ai.onnx 17 and ai.onnx.ml 3.
 * - One input per feature, named after it, `[N, 1]`: `float` for numeric (NaN = missing), `string` for
 *   categorical ("" = missing, see `pipelines/model/raw.ts`).
 * - Outputs: classification `label` [N] string (the class name) and `probabilities` [N, C] float in
 *   class order; regression `variable` [N, 1] float. No ZipMap.
 * - `metadata_props`: Driftline version, canonical feature schema and its sha256, task, model kind,
 *   class labels, and the dataset version when given.
 *
 * The bytes depend only on the model and the options: the same model exports to identical bytes.
 */

import type { onnx as proto } from 'onnx-proto';
import protobuf from 'protobufjs';
import { InputError } from '../errors.ts';
import type { TrainedModel } from '../model/types.ts';
import { DRIFTLINE_VERSION } from '../version.ts';
import { ElementType, GraphBuilder, ML_DOMAIN, onnxProto, tensorType } from './graph.ts';
import { classificationHead, OUTPUT_NAMES } from './head.ts';
import { linearScores } from './linear.ts';
import { metadataProps } from './metadata.ts';
import { treeEnsembleScores } from './trees.ts';

/** The ONNX versions every Driftline model declares (the newest Debian's onnx 1.12 checker accepts). */
export const ONNX_VERSIONS = { irVersion: 8, opset: 17, mlOpset: 3 } as const;

/** Optional facts recorded with the model. */
export interface ExportOptions {
  /** The content hash of the dataset version the model was trained on. */
  readonly datasetVersion?: string;
  /** The graph name (e.g. the project name); default `driftline`. */
  readonly graphName?: string;
}

/**
 * Serialises `model` as an ONNX model.
 *
 * @throws InputError when the model cannot be served as described above (a feature named like an
 *   output, duplicate names, `""` as a category, arrays that disagree with each other).
 */
export function exportOnnx(model: TrainedModel, options: ExportOptions = {}): Uint8Array {
  checkNames(model);
  const outputNames =
    model.task === 'regression' ? [OUTPUT_NAMES.value] : [OUTPUT_NAMES.label, OUTPUT_NAMES.probabilities];
  const g = new GraphBuilder([...model.features.map((f) => f.name), ...outputNames]);

  const raw = model.task === 'regression' ? OUTPUT_NAMES.value : g.fresh('raw_score');
  if (model.kind === 'gbdt') treeEnsembleScores(g, model, raw);
  else linearScores(g, model, raw);
  if (model.task !== 'regression') classificationHead(g, raw, model.task, model.classes);

  const classes = model.classes.length;
  const outputs: proto.IValueInfoProto[] =
    model.task === 'regression'
      ? [{ name: OUTPUT_NAMES.value, type: tensorType(ElementType.float, ['N', 1]) }]
      : [
          { name: OUTPUT_NAMES.label, type: tensorType(ElementType.string, ['N']) },
          { name: OUTPUT_NAMES.probabilities, type: tensorType(ElementType.float, ['N', classes]) },
        ];

  const graph: proto.IGraphProto = {
    name: options.graphName ?? 'driftline',
    node: g.nodes,
    initializer: g.initializers,
    input: model.features.map((f) => ({
      name: f.name,
      type: tensorType(f.type === 'numeric' ? ElementType.float : ElementType.string, ['N', 1]),
    })),
    output: outputs,
  };
  const message: proto.IModelProto = {
    irVersion: ONNX_VERSIONS.irVersion,
    opsetImport: [
      { domain: '', version: ONNX_VERSIONS.opset },
      { domain: ML_DOMAIN, version: ONNX_VERSIONS.mlOpset },
    ],
    producerName: 'driftline',
    producerVersion: DRIFTLINE_VERSION,
    graph,
    metadataProps: metadataProps({
      version: DRIFTLINE_VERSION,
      features: model.features,
      task: model.task,
      modelKind: model.kind,
      classes: model.classes,
      datasetVersion: options.datasetVersion,
    }),
  };
  return onnxProto.ModelProto.encode(message).finish();
}

/** `ModelProto.metadata_props` is field 14 (onnx.proto). */
const METADATA_PROPS_FIELD = 14;

/**
 * The `metadata_props` of a model, as a plain record. Only the top level of the protobuf message is
 * walked and only the metadata entries are decoded: decoding the whole graph (every tree node) would
 * cost about a second on a 20 MB model, on the cold-start path of serving.
 * @throws Error when the bytes are not a protobuf message
 */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const reader = new protobuf.Reader(bytes);
  const out: Record<string, string> = {};
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === METADATA_PROPS_FIELD && (tag & 7) === 2) {
      const entry = onnxProto.StringStringEntryProto.decode(reader, reader.uint32());
      out[entry.key ?? ''] = entry.value ?? '';
    } else {
      reader.skipType(tag & 7);
    }
  }
  return out;
}

function checkNames(model: TrainedModel): void {
  const reserved = new Set<string>(Object.values(OUTPUT_NAMES));
  const seen = new Set<string>();
  model.features.forEach((f, i) => {
    if (f.name === '') throw new InputError(`feature ${i} has an empty name`);
    if (reserved.has(f.name)) {
      throw new InputError(`feature "${f.name}" has the name of a model output`, {
        hint: `rename the column: ${[...reserved].map((r) => `"${r}"`).join(', ')} are the ONNX outputs`,
      });
    }
    if (seen.has(f.name)) throw new InputError(`feature "${f.name}" appears twice`);
    seen.add(f.name);
  });
  if (model.features.length === 0) throw new InputError('the model has no features');

  const count = model.classes.length;
  const wanted = { binary: 'exactly 2', multiclass: 'at least 2', regression: 'no' }[model.task];
  const fits = model.task === 'binary' ? count === 2 : model.task === 'multiclass' ? count >= 2 : count === 0;
  if (!fits) throw new InputError(`a ${model.task} model needs ${wanted} classes, got ${count}`);
  if (new Set(model.classes).size !== model.classes.length) {
    throw new InputError(`class labels must be distinct, got ${JSON.stringify(model.classes)}`);
  }
}
