export { findTslab, installKernelSpecs } from "./kernelspec";
export type { TslabLocation } from "./kernelspec";
export { runNotebook, describeFailure } from "./notebook";
export type { RunOptions, NotebookResult, CellFailure } from "./notebook";
export { runNotebooks } from "./run";
export { Kernel } from "./kernel";
export type { ExecuteResult, KernelOptions, Output } from "./kernel";
export { studentVersion, restoreSolutions, stubSource, writeStudentVersions } from "./student";
export type { LessonNotebook } from "./student";
