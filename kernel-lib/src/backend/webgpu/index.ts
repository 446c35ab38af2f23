/// <reference types="@webgpu/types" />
/**
 * The WebGPU backend (Dawn in Node, or a browser's WebGPU): the primitive
 * kernels on GPU buffers. The device, its memory and its queue are in
 * ./device, ./memory and ./queue; the WGSL sources in ./kernels.
 */
import {
  announceDevice,
  contiguousStrides,
  numel,
  registerBackend,
  viewLayout,
  type Backend,
  type DType,
  type ElementwiseOp,
  type Program,
  type TypedArray,
  type View,
} from "../backend";
import { closeDevice, current, openDevice, peek, type AdapterDescription } from "./device";
import {
  TILE,
  argReduceSource,
  bodyOf,
  elementwiseSource,
  elementwiseVec4Source,
  gatherSource,
  matmulSource,
  reduceSource,
  viewAddSource,
  WG,
} from "./kernels";
import { createStorage, gpuStorage, liveBufferCount, release, resetMemory, type GpuStorage } from "./memory";
import { dispatch, encoderForCopy, flush, groupsFor, mapWithWatchdog, threads } from "./queue";

export type { AdapterDescription } from "./device";
export { liveBufferCount, flush };

declare module "../backend" {
  interface Devices {
    /** A GPU through WebGPU: reads are asynchronous. */
    webgpu: { syncRead: false };
  }
}

announceDevice("webgpu", "run `await initWebGPU()` first");

/**
 * Open the GPU (once) and register the "webgpu" device. Throws with what to
 * install when there is no adapter.
 */
export async function initWebGPU(): Promise<AdapterDescription> {
  const s = await openDevice();
  registerBackend(webgpuBackend);
  return s.adapter;
}

/** True if a WebGPU adapter can be opened here (opens it). */
export async function isWebGPUAvailable(): Promise<boolean> {
  try {
    await initWebGPU();
    return true;
  } catch {
    return false;
  }
}

/** The adapter in use, or null before initWebGPU. */
export function webgpuAdapter(): AdapterDescription | null {
  return peek()?.adapter ?? null;
}

/**
 * Destroy the device and every buffer, so that Node (and the kernel) can exit.
 * Tensors on "webgpu" are unusable afterwards; initWebGPU() opens a new device.
 */
export function releaseWebGPU(): void {
  if (!peek()) return;
  flush();
  closeDevice();
  resetMemory();
}

/** One op, or a fused chain (Program), over views broadcast to `shape`. */
function elementwise(op: ElementwiseOp | Program, inputs: View[], shape: number[], dtype: DType): GpuStorage {
  const size = numel(shape);
  const out = createStorage(dtype, size);
  if (size === 0) return out;
  const name = typeof op === "string" ? op : op.key;
  const layout = inputs.map((v) => viewLayout(v, shape)).join("");
  const types = inputs.map((v) => v.storage.dtype);
  const vec4 =
    dtype === "float32" &&
    size % 4 === 0 &&
    types.every((t) => t === "float32") &&
    inputs.every((v, i) => layout[i] === "s" || (layout[i] === "c" && v.offset % 4 === 0));
  if (vec4) {
    const buffers = [out.buffer, ...inputs.map((v) => gpuStorage(v.storage).buffer)];
    dispatch(`ew4|${name}|${layout}`, () => elementwiseVec4Source(bodyOf(op), layout), buffers, [size / 4, ...inputs.map((v) => v.offset)], groupsFor(Math.min(Math.ceil(size / 4 / WG), 8192)));
    return out;
  }
  const key = `ew|${name}|${dtype}|${types.join(",")}|${layout}`;
  const meta = [size, shape.length, ...shape];
  for (const v of inputs) meta.push(v.offset, ...(v.contiguous ? contiguousStrides(shape) : v.strides));
  dispatch(key, () => elementwiseSource(bodyOf(op), dtype, types, layout), [out.buffer, ...inputs.map((v) => gpuStorage(v.storage).buffer)], meta, threads(size));
  return out;
}

export const webgpuBackend: Backend = {
  device: "webgpu",
  capabilities: { syncRead: false, float64: false },

  release(storage) {
    flush();
    release(storage as GpuStorage, true);
  },

  liveCount: liveBufferCount,

  fromArray(values, dtype) {
    const st = createStorage(dtype, values.length);
    const data = dtype === "float32" ? Float32Array.from(values) : dtype === "int32" ? Int32Array.from(values) : Uint32Array.from(values);
    if (data.length) current().device.queue.writeBuffer(st.buffer, 0, data);
    return st;
  },

  async read(storage) {
    const st = gpuStorage(storage);
    const s = current();
    flush();
    const bytes = Math.max(4, st.size * 4);
    const staging = s.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = s.device.createCommandEncoder();
    enc.copyBufferToBuffer(st.buffer, 0, staging, 0, bytes);
    s.device.queue.submit([enc.finish()]);
    await mapWithWatchdog(s, staging);
    if (s.error) {
      staging.destroy();
      const error = s.error;
      s.error = undefined;
      throw error;
    }
    const raw = staging.getMappedRange().slice(0, st.size * 4);
    staging.unmap();
    staging.destroy();
    let out: TypedArray;
    if (st.dtype === "float32") out = new Float32Array(raw);
    else if (st.dtype === "int32") out = new Int32Array(raw);
    else out = Uint8Array.from(new Uint32Array(raw));
    return out;
  },

  elementwise(op, inputs, shape, dtype) {
    return elementwise(op, inputs, shape, dtype);
  },

  fused(program, inputs, shape, sumRows) {
    const out = elementwise(program, inputs, shape, "float32");
    if (sumRows === 0) return out;
    const n = numel(shape);
    const sums = webgpuBackend.reduce("sum", out, [n / sumRows, sumRows], [1]);
    webgpuBackend.release(out);
    return sums;
  },

  reduce(op, x, shape, axes) {
    const outType: DType = x.dtype === "bool" ? "int32" : x.dtype;
    const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const red = [...axes].sort((a, b) => a - b);
    const rows = numel(kept.map((i) => shape[i]));
    let R = numel(red.map((i) => shape[i]));
    // Bring the reduced axes last (a strided copy) unless they already are.
    let src = gpuStorage(x);
    const order = [...kept, ...red];
    if (order.some((d, i) => d !== i)) {
      const own = contiguousStrides(shape);
      src = webgpuBackend.elementwise("copy", [{ storage: x, strides: order.map((d) => own[d]), offset: 0 }], order.map((d) => shape[d]), x.dtype) as GpuStorage;
    }
    if (R === 0 || rows === 0) {
      const init = op === "sum" ? 0 : op === "max" ? -Infinity : Infinity;
      return webgpuBackend.fromArray(new Array(rows).fill(init), outType);
    }
    // Chunks of at most 16 workgroup-widths per row; repeat until one per row.
    let inType = src.dtype;
    while (true) {
      const chunkLen = WG * 16;
      const chunks = Math.ceil(R / chunkLen);
      const partialType: DType = chunks > 1 ? (inType === "bool" ? "float32" : inType === "int32" ? "float32" : inType) : outType;
      const out = createStorage(partialType, rows * chunks);
      const [i, o] = [inType, partialType];
      dispatch(`red|${op}|${i}|${o}`, () => reduceSource(op, i, o), [out.buffer, src.buffer], [R, chunks, chunkLen, rows], groupsFor(rows * chunks));
      // a temporary (reordered copy or partial sums) is freed once this pass is submitted
      if (src !== x) release(src, false);
      if (chunks === 1) return out;
      src = out;
      inType = partialType;
      R = chunks;
    }
  },

  argReduce(op, x, shape, axis) {
    const order = [...shape.keys()].filter((d) => d !== axis).concat(axis);
    let src = gpuStorage(x);
    if (axis !== shape.length - 1) {
      const own = contiguousStrides(shape);
      src = webgpuBackend.elementwise("copy", [{ storage: x, strides: order.map((d) => own[d]), offset: 0 }], order.map((d) => shape[d]), x.dtype) as GpuStorage;
    }
    const R = shape[axis];
    const rows = numel(shape) / R;
    const out = createStorage("int32", rows);
    const t = src.dtype;
    if (rows > 0) dispatch(`arg|${op}|${t}`, () => argReduceSource(op, t), [out.buffer, src.buffer], [R, rows], groupsFor(rows));
    if (src !== x) release(src, false);
    return out;
  },

  matmul(a, b, { batch, m, k, n, aBatchStride, bBatchStride, transA, transB }) {
    if (a.dtype !== "float32" || b.dtype !== "float32") throw new TypeError("matmul on webgpu supports float32 only");
    const out = createStorage("float32", batch * m * n);
    if (batch * m * n === 0) return out;
    dispatch("matmul", matmulSource, [out.buffer, gpuStorage(a).buffer, gpuStorage(b).buffer], [m, k, n, aBatchStride, bBatchStride, transA ? 1 : 0, transB ? 1 : 0], [
      Math.ceil(n / TILE),
      Math.ceil(m / TILE),
      batch,
    ]);
    return out;
  },

  viewAdd(base, src, shape, strides, offset) {
    const out = createStorage(base.dtype, base.size);
    if (base.size) encoderForCopy().copyBufferToBuffer(gpuStorage(base).buffer, 0, out.buffer, 0, base.size * 4);
    const size = numel(shape);
    const t = base.dtype;
    if (size) dispatch(`viewAdd|${t}`, () => viewAddSource(t), [out.buffer, gpuStorage(src).buffer], [size, shape.length, offset, ...shape, ...strides], threads(size));
    return out;
  },

  gather(x, xShape, dim, index, indexShape) {
    const size = numel(indexShape);
    const out = createStorage(x.dtype, size);
    if (size) {
      const t = x.dtype;
      dispatch(`gather|${t}`, () => gatherSource(t, false), [out.buffer, gpuStorage(x).buffer, gpuStorage(index).buffer], [size, xShape.length, dim, ...indexShape, ...xShape], threads(size));
    }
    return out;
  },

  scatterAdd(src, indexShape, dim, index, outShape) {
    const size = numel(outShape);
    const out = createStorage(src.dtype, size);
    if (size) {
      const t = src.dtype;
      dispatch(`scatter|${t}`, () => gatherSource(t, true), [out.buffer, gpuStorage(src).buffer, gpuStorage(index).buffer], [size, outShape.length, dim, ...indexShape, ...outShape], threads(size));
    }
    return out;
  },

  copyInto(target, src) {
    if (src.size) encoderForCopy().copyBufferToBuffer(gpuStorage(src).buffer, 0, gpuStorage(target).buffer, 0, src.size * 4);
  },

  cast(x, dtype) {
    return webgpuBackend.elementwise("copy", [{ storage: x, strides: [], offset: 0, contiguous: true }], [x.size], dtype);
  },
};
