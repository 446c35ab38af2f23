import * as ops from "./ops";
import type { Device, Tensor } from "./tensor";

import "./methods";
export { Tensor, isFloat } from "./tensor";
export { tensor, zeros, ones, full, zerosLike, onesLike, arange, linspace } from "./create";
export type { TensorLike, TensorOptions, NestedArray, DType, Device, Read } from "./tensor";
export { noGrad, isGradEnabled, GradNode } from "./autograd";
export { manualSeed, rand, randn, randint } from "./random";
export type { IndexSpec } from "./ops";

// The ops, typed so that a result stays on its inputs' device.
type T<D extends Device> = Tensor<D>;
export const where = ops.where as <D extends Device>(cond: T<D>, x: T<D> | number, y: T<D> | number) => T<D>;
export const cat = ops.cat as <D extends Device>(tensors: Array<T<D>>, dim?: number) => T<D>;
export const stack = ops.stack as <D extends Device>(tensors: Array<T<D>>, dim?: number) => T<D>;
export const matmul = ops.matmul as <D extends Device>(a: T<D>, b: T<D>) => T<D>;
export const dot = ops.dot as <D extends Device>(a: T<D>, b: T<D>) => T<D>;
export const mseLoss = ops.mseLoss as <D extends Device>(input: T<D>, target: T<D>) => T<D>;
export const crossEntropy = ops.crossEntropy as <D extends Device>(logits: T<D>, target: T<D>) => T<D>;
export const softmax = ops.softmax as <D extends Device>(x: T<D>, dim: number) => T<D>;
export const logSoftmax = ops.logSoftmax as <D extends Device>(x: T<D>, dim: number) => T<D>;
export const relu = ops.relu as <D extends Device>(x: T<D>) => T<D>;
export const sigmoid = ops.sigmoid as <D extends Device>(x: T<D>) => T<D>;
export const tanh = ops.tanh as <D extends Device>(x: T<D>) => T<D>;
export const maximum = ops.maximum as <D extends Device>(a: T<D>, b: T<D> | number) => T<D>;
export const minimum = ops.minimum as <D extends Device>(a: T<D>, b: T<D> | number) => T<D>;
