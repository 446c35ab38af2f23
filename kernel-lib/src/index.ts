export { Variable, add, sub, mul, div, sum, lift, topologicalOrder } from "./scalar/variable";
export type { Scalar } from "./scalar/variable";
export { Dual, derivative, jacobianForward, jacobianReverse } from "./scalar/dual";
export type { DualLike, Differentiable, JacobianResult } from "./scalar/dual";
export { Random, seededRandom } from "./random";
export { check, checkThat, CheckFailure } from "./lesson/check";
export type { CheckOptions } from "./lesson/check";
export { plot, Figure, LiveLoss, resetPlotly } from "./plot";
export { drawGraph, graphSVG, graphDot } from "./plot/graph";
export type { GraphOptions } from "./plot/graph";
export type { FigureOptions, TraceOptions, Values } from "./plot";
export { display, inKernel } from "./display";
export type { MimeBundle, DisplayOptions } from "./display";
import "./backend/cpu";
import { serializeLoadedZeromq } from "./tslab/sends";
import { inKernel } from "./display";
// Inside a tslab kernel started without kernel-lib's preload (a plain
// `tslab install`), stop it from losing output from here on.
if (inKernel()) serializeLoadedZeromq();
export { initWebGPU, isWebGPUAvailable, releaseWebGPU, webgpuAdapter, liveBufferCount } from "./backend/webgpu";
export type { AdapterDescription } from "./backend/webgpu";
export * from "./tensor";
export { grad, gradAndValue, vjp, jvp, jacrev, jacfwd, hessian, hvp } from "./func";
export type { GradOptions, TensorFunction, Tensors } from "./func";
export * as nn from "./nn";
export * as optim from "./optim";
