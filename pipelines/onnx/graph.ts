/**
 * A small builder for ONNX graphs over the `onnx-proto` message types: nodes, typed constants
 * (initializers) and attributes, with value names that never collide with a feature (graph input) or
 * output name. Everything is appended in call order, so the same calls give the same bytes.
 */

import type { onnx as proto } from 'onnx-proto';
import pkg from 'onnx-proto';

const { onnx } = pkg;

/** The protobuf namespace, for the encoders and enum values. */
export const onnxProto = onnx;

/** ONNX element types used by Driftline graphs. */
export const ElementType = {
  float: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  string: onnx.TensorProto.DataType.STRING,
  bool: onnx.TensorProto.DataType.BOOL,
} as const;
export type ElementType = (typeof ElementType)[keyof typeof ElementType];

/** The operator domain of the classical-ML operators (LabelEncoder, TreeEnsemble*). */
export const ML_DOMAIN = 'ai.onnx.ml';

/** One attribute value; the kind decides the protobuf field. */
export type AttributeValue =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'ints'; readonly value: ArrayLike<number> }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'floats'; readonly value: ArrayLike<number> }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'strings'; readonly value: readonly string[] };

/** Attribute shorthands. */
export const attr = {
  int: (value: number): AttributeValue => ({ kind: 'int', value }),
  ints: (value: ArrayLike<number>): AttributeValue => ({ kind: 'ints', value }),
  float: (value: number): AttributeValue => ({ kind: 'float', value }),
  floats: (value: ArrayLike<number>): AttributeValue => ({ kind: 'floats', value }),
  string: (value: string): AttributeValue => ({ kind: 'string', value }),
  strings: (value: readonly string[]): AttributeValue => ({ kind: 'strings', value }),
};

const utf8 = new TextEncoder();

function attributeProto(name: string, value: AttributeValue): proto.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (value.kind) {
    case 'int':
      return { name, type: T.INT, i: value.value };
    case 'ints':
      return { name, type: T.INTS, ints: Array.from(value.value) };
    case 'float':
      return { name, type: T.FLOAT, f: value.value };
    case 'floats':
      return { name, type: T.FLOATS, floats: Array.from(value.value) };
    case 'string':
      return { name, type: T.STRING, s: utf8.encode(value.value) };
    case 'strings':
      return { name, type: T.STRINGS, strings: value.value.map((s) => utf8.encode(s)) };
  }
}

/** A tensor type with a symbolic batch dimension `N` first, e.g. `[N, 1]`. */
export function tensorType(elemType: ElementType, dims: readonly (number | 'N')[]): proto.ITypeProto {
  return {
    tensorType: {
      elemType,
      shape: { dim: dims.map((d) => (d === 'N' ? { dimParam: 'N' } : { dimValue: d })) },
    },
  };
}

/** Collects the nodes and constants of one graph. */
export class GraphBuilder {
  readonly nodes: proto.INodeProto[] = [];
  readonly initializers: proto.ITensorProto[] = [];
  readonly #taken: Set<string>;
  #counter = 0;

  /** @param reserved names already used by graph inputs and outputs. */
  constructor(reserved: Iterable<string>) {
    this.#taken = new Set(reserved);
  }

  /** A value name no input, output or other value uses. */
  fresh(hint: string): string {
    let name = `${hint}_${this.#counter++}`;
    // A feature may happen to be called like an internal value; lengthen until free.
    while (this.#taken.has(name)) name = `_${name}`;
    this.#taken.add(name);
    return name;
  }

  /**
   * Appends one node.
   *
   * @param outputs the output value names (use {@link fresh} for internal ones).
   * @returns `outputs`, for chaining.
   */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: Readonly<Record<string, AttributeValue>> = {},
    domain = '',
  ): readonly string[] {
    const node: proto.INodeProto = {
      input: [...inputs],
      output: [...outputs],
      name: `${opType}_${this.nodes.length}`,
      opType,
      attribute: Object.entries(attributes).map(([name, value]) => attributeProto(name, value)),
    };
    if (domain !== '') node.domain = domain;
    this.nodes.push(node);
    return outputs;
  }

  /** Appends a node with one fresh output and returns its name. */
  op(
    opType: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, AttributeValue>> = {},
    domain = '',
  ): string {
    const out = this.fresh(opType.toLowerCase());
    this.node(opType, inputs, [out], attributes, domain);
    return out;
  }

  /** A float32 constant of the given shape. */
  floatConstant(hint: string, dims: readonly number[], values: ArrayLike<number>): string {
    return this.#constant(hint, dims, { dataType: ElementType.float, floatData: Array.from(values) });
  }

  /** An int64 constant of the given shape. */
  int64Constant(hint: string, dims: readonly number[], values: ArrayLike<number>): string {
    return this.#constant(hint, dims, { dataType: ElementType.int64, int64Data: Array.from(values) });
  }

  /** A string constant of the given shape. */
  stringConstant(hint: string, dims: readonly number[], values: readonly string[]): string {
    return this.#constant(hint, dims, {
      dataType: ElementType.string,
      stringData: values.map((s) => utf8.encode(s)),
    });
  }

  #constant(hint: string, dims: readonly number[], tensor: proto.ITensorProto): string {
    const name = this.fresh(hint);
    this.initializers.push({ name, dims: [...dims], ...tensor });
    return name;
  }
}
