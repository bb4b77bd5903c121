/**
 * The categories a model knows, read from its own graph. The model contract puts categorical encoding
 * inside the graph (an `ai.onnx.ml` LabelEncoder on each categorical input, see
 * `pipelines/onnx/trees.ts` and `linear.ts`), so the served model is the one authority on which values
 * are "unknown" — serving reads nothing but the champion pointer and the model bytes.
 *
 * This runs on every model load, so on cold starts: rather than decoding the whole model (a tree
 * ensemble is tens of thousands of node attributes — ≈ 25 ms for a 1 MB model in a fresh process,
 * and growing with the model), it walks the protobuf wire format, skips every graph node by its
 * length, and decodes only the LabelEncoder nodes, which are small. Anything unexpected in the
 * bytes falls back to the full decode, so the answer never depends on the shortcut.
 */

import type { onnx as proto } from 'onnx-proto';
import { categoricalInput, MISSING_CATEGORY, type RawValue } from '../model/raw.ts';
import { ML_DOMAIN, onnxProto } from '../onnx/graph.ts';
import type { SchemaFeature } from '../onnx/metadata.ts';

/** A categorical feature's known values in a model: feature name → values. */
export type KnownCategories = ReadonlyMap<string, ReadonlySet<string>>;

const utf8 = new TextDecoder();

/** Field numbers of onnx.proto used here. */
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const NODE_OP_TYPE = 4;
const NODE_DOMAIN = 7;

/** Protobuf wire types. */
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** The wire format is not what this reader expects: use the full decode. */
class WireFormatError extends Error {
  override readonly name = 'WireFormatError';
}

/** A forward-only reader of one protobuf message's fields. */
class FieldReader {
  readonly #bytes: Uint8Array;
  #pos: number;
  readonly #end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.#bytes = bytes;
    this.#pos = start;
    this.#end = end;
  }

  get done(): boolean {
    return this.#pos >= this.#end;
  }

  /** A varint up to 2^53 (lengths and tags; larger is not a model this code reads). */
  #varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.#pos >= this.#end) throw new WireFormatError('truncated varint');
      const byte = this.#bytes[this.#pos++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new WireFormatError('varint too long');
  }

  /** The next field: its number, wire type and, when length-delimited, where its bytes are. */
  next(): { field: number; wire: number; start: number; end: number } {
    const tag = this.#varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    let start = this.#pos;
    switch (wire) {
      case VARINT:
        this.#varint();
        break;
      case FIXED64:
        this.#pos += 8;
        break;
      case FIXED32:
        this.#pos += 4;
        break;
      case LENGTH_DELIMITED: {
        const length = this.#varint();
        start = this.#pos;
        this.#pos += length;
        break;
      }
      default:
        throw new WireFormatError(`wire type ${wire}`);
    }
    if (this.#pos > this.#end) throw new WireFormatError('field runs past its message');
    return { field, wire, start, end: this.#pos };
  }
}

/** The LabelEncoder nodes of the model's graph, each decoded; `WireFormatError` when unsure. */
function labelEncoderNodes(bytes: Uint8Array): proto.INodeProto[] {
  const nodes: proto.INodeProto[] = [];
  const model = new FieldReader(bytes);
  while (!model.done) {
    const graphField = model.next();
    if (graphField.field !== MODEL_GRAPH || graphField.wire !== LENGTH_DELIMITED) continue;
    // A repeated-looking graph field is merged by protobuf; this reader reads each in turn, the same.
    const graph = new FieldReader(bytes, graphField.start, graphField.end);
    while (!graph.done) {
      const nodeField = graph.next();
      if (nodeField.field !== GRAPH_NODE || nodeField.wire !== LENGTH_DELIMITED) continue;
      let opType = '';
      let domain = '';
      const node = new FieldReader(bytes, nodeField.start, nodeField.end);
      while (!node.done) {
        const f = node.next();
        if (f.wire !== LENGTH_DELIMITED) continue;
        if (f.field === NODE_OP_TYPE) opType = utf8.decode(bytes.subarray(f.start, f.end));
        else if (f.field === NODE_DOMAIN) domain = utf8.decode(bytes.subarray(f.start, f.end));
      }
      if (opType === 'LabelEncoder' && domain === ML_DOMAIN) {
        nodes.push(onnxProto.NodeProto.decode(bytes.subarray(nodeField.start, nodeField.end)));
      }
    }
  }
  return nodes;
}

/** Every LabelEncoder node, through the full decode of the model. */
function labelEncoderNodesDecoded(bytes: Uint8Array): proto.INodeProto[] {
  const graph = onnxProto.ModelProto.decode(bytes).graph;
  return (graph?.node ?? []).filter((node) => node.opType === 'LabelEncoder' && node.domain === ML_DOMAIN);
}

/**
 * Categorical feature name → the values its LabelEncoder maps to a known code (the missing-value key
 * `""` excluded). A categorical feature with no encoder (a linear model that kept no category) knows
 * no value at all.
 */
export function knownCategories(bytes: Uint8Array, features: readonly SchemaFeature[]): KnownCategories {
  let encoders: proto.INodeProto[];
  try {
    encoders = labelEncoderNodes(bytes);
  } catch {
    // Not the layout expected (or not a model at all): the full decode decides, and throws if it must.
    encoders = labelEncoderNodesDecoded(bytes);
  }
  const known = new Map<string, Set<string>>();
  for (const feature of features) if (feature.type === 'categorical') known.set(feature.name, new Set());
  for (const node of encoders) {
    const input = node.input?.[0];
    const set = input === undefined ? undefined : known.get(input);
    if (set === undefined) continue;
    for (const attribute of node.attribute ?? []) {
      if (attribute.name !== 'keys_strings') continue;
      for (const key of attribute.strings ?? []) {
        const value = utf8.decode(key);
        if (value !== MISSING_CATEGORY) set.add(value);
      }
    }
  }
  return known;
}

/**
 * Whether a model that knows `known` of a feature's values takes `value` as an unknown category (a
 * missing value is not one): what the API counts.
 */
export function isUnknownCategory(known: ReadonlySet<string>, value: RawValue): boolean {
  const input = categoricalInput(value);
  return input !== MISSING_CATEGORY && !known.has(input);
}
