export { findTslab, installKernelSpecs } from "./kernelspec";
