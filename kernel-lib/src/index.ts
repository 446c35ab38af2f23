export { Variable, add, sub, mul, div, sum, lift, topologicalOrder } from "./scalar/variable";
export type { Scalar } from "./scalar/variable";
export { Random, seededRandom } from "./random";
export { plot, Figure, resetPlotly } from "./plot";
export type { FigureOptions, TraceOptions, Values } from "./plot";
export { display, inKernel } from "./display";
export type { MimeBundle, DisplayOptions } from "./display";
