export { Tensor, tensor, zeros, ones, full, zerosLike, onesLike, arange, linspace, isFloat } from "./tensor";
export type { TensorLike, TensorOptions, NestedArray, DType } from "./tensor";
export { noGrad, isGradEnabled, GradNode } from "./autograd";
export { manualSeed, rand, randn, randint } from "./random";
export { where, cat, stack, matmul, dot, mseLoss, crossEntropy, softmax, logSoftmax, maximum, minimum } from "./ops";
export type { IndexSpec } from "./ops";
