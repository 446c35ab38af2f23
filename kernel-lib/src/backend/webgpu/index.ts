/// <reference types="@webgpu/types" />
import { contiguousStrides, numel, registerBackend, type Backend, type DType, type Storage, type TypedArray, type View } from "../backend";
import {
  WG,
  TILE,
  argReduceSource,
  elementwiseSource,
  elementwiseVec4Source,
  gatherSource,
  matmulSource,
  reduceSource,
  viewAddSource,
  wgslType,
} from "./kernels";

/** What the lesson shows about the GPU in use. */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  maxStorageBufferBindingSize: number;
}

interface State {
  gpu: GPU;
  device: GPUDevice;
  adapter: AdapterDescription;
  pipelines: Map<string, GPUComputePipeline>;
  /** Bind group layouts by number of buffers: output, inputs, then the parameters (dynamic offset). */
  layouts: Map<number, GPUBindGroupLayout>;
  /** Bind groups by buffers: pooled buffers recur, so most dispatches reuse one. */
  bindGroups: Map<string, GPUBindGroup>;
  bufferIds: WeakMap<GPUBuffer, number>;
  nextBufferId: number;
  encoder: GPUCommandEncoder | null;
  pass: GPUComputePassEncoder | null;
  pending: number;
  /** Kernel parameters of the batch being recorded, one 256-byte slot per dispatch. */
  params: GPUBuffer;
  paramData: Int32Array;
  /** Freed buffers by byte size, reused before allocating new ones. */
  pool: Map<number, GPUBuffer[]>;
  pooledBytes: number;
  scopes: Array<Set<GpuStorage>>;
  error?: Error;
}
let state: State | null = null;

const INSTALL_HINT =
  "No WebGPU adapter. In Node this needs a Vulkan driver: on Debian/Ubuntu without a GPU, install Mesa's lavapipe " +
  "(Debian 12: `apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`; Mesa 25 or newer); with an " +
  "NVIDIA GPU, the driver's Vulkan ICD and libvulkan1. In a browser, use one with WebGPU enabled.";

/** GPU memory behind a tensor. Freed when unreachable, by `tidy`, or by `dispose`. */
export class GpuStorage implements Storage {
  version = 0;
  destroyed = false;
  constructor(
    readonly buffer: GPUBuffer,
    readonly dtype: DType,
    readonly size: number,
    readonly device: GPUDevice,
  ) {}
}

let liveBuffers = 0;
// Buffers of storages nobody references any more (outside any tidy scope).
// They may still be used by recorded, unsubmitted work, so they are released
// only after the next submit.
const unreachable: Array<{ buffer: GPUBuffer; device: GPUDevice }> = [];
const registry = new FinalizationRegistry<{ buffer: GPUBuffer; device: GPUDevice }>((held) => unreachable.push(held));

function current(): State {
  if (state === null) throw new Error("WebGPU is not initialised: run `await initWebGPU()` first (see isWebGPUAvailable())");
  return state;
}

async function loadGPU(): Promise<GPU | null> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  try {
    // Dawn's Node bindings (ESM-only; require() of ESM needs Node >= 20.19)
    const webgpu = require("webgpu") as { create(flags: string[]): GPU; globals: object };
    Object.assign(globalThis, webgpu.globals);
    return webgpu.create([]);
  } catch (e) {
    throw new Error(`WebGPU for Node could not be loaded (the \`webgpu\` package): ${(e as Error).message}`);
  }
}

/**
 * Open the GPU (once) and register the "webgpu" device. Throws with what to
 * install when there is no adapter.
 */
export async function initWebGPU(): Promise<AdapterDescription> {
  if (state) return state.adapter;
  const gpu = await loadGPU();
  const adapter = gpu && (await gpu.requestAdapter({ powerPreference: "high-performance" }));
  if (!gpu || !adapter) throw new Error(INSTALL_HINT);
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
    },
  });
  const info = adapter.info;
  const description: AdapterDescription = {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
  };
  state = {
    gpu,
    device,
    adapter: description,
    pipelines: new Map(),
    layouts: new Map(),
    bindGroups: new Map(),
    bufferIds: new WeakMap(),
    nextBufferId: 0,
    encoder: null,
    pass: null,
    pending: 0,
    params: device.createBuffer({ size: SLOT * BATCH, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST }),
    paramData: new Int32Array((SLOT / 4) * BATCH),
    pool: new Map(),
    pooledBytes: 0,
    scopes: [],
  };
  device.lost.then(() => {
    if (state?.device === device) state = null;
  });
  // Validation and out-of-memory errors arrive asynchronously; the next read reports them.
  device.addEventListener("uncapturederror", (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    if (state?.device === device) state.error ??= new Error(`WebGPU error: ${error.message}`);
  });
  registerBackend(webgpuBackend);
  return description;
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
  return state?.adapter ?? null;
}

/**
 * Destroy the device and every buffer, so that Node (and the kernel) can exit.
 * Tensors on "webgpu" are unusable afterwards; initWebGPU() opens a new device.
 */
export function releaseWebGPU(): void {
  if (!state) return;
  const s = state;
  flush();
  state = null;
  s.pipelines.clear();
  s.device.destroy();
  liveBuffers = 0;
}

/** Live GPU buffers (for checking that training loops do not leak). */
export function liveBufferCount(): number {
  return liveBuffers;
}

const SLOT = 256;
const BATCH = 64;
const POOL_BYTES = 1 << 30;

function destroy(st: GpuStorage): void {
  if (st.destroyed) return;
  st.destroyed = true;
  registry.unregister(st);
  const s = state;
  if (!s || st.device !== s.device) return void st.buffer.destroy();
  liveBuffers--;
  recycle(s, st.buffer);
}

/** Keep a free buffer for reuse (every kernel writes all of its output), within a budget. */
function recycle(s: State, buffer: GPUBuffer): void {
  if (s.pooledBytes + buffer.size > POOL_BYTES) {
    // bind groups that name the buffer must go with it
    s.bindGroups.clear();
    buffer.destroy();
    return;
  }
  const list = s.pool.get(buffer.size) ?? [];
  list.push(buffer);
  s.pool.set(buffer.size, list);
  s.pooledBytes += buffer.size;
}

/**
 * Run `fn` and free the GPU buffers it created, except those the result (a
 * tensor, or an array or object of tensors) holds and those now held by
 * tensors created before (parameters updated in place, their gradients).
 */
export function tidy<T>(fn: () => T, keepAlive: () => Storage[] = () => []): T {
  const s = state;
  if (!s) return fn();
  const created = new Set<GpuStorage>();
  s.scopes.push(created);
  let result: T;
  try {
    result = fn();
  } finally {
    s.scopes.pop();
  }
  const keep = new Set<Storage>(keepAlive());
  collectStorages(result, keep);
  flush();
  for (const st of created) {
    if (keep.has(st)) {
      // a kept buffer belongs to the enclosing scope, if any
      s.scopes[s.scopes.length - 1]?.add(st);
    } else destroy(st);
  }
  return result;
}

function collectStorages(value: unknown, into: Set<Storage>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  const t = value as { _storage?: Storage; grad?: unknown };
  if (t._storage) {
    into.add(t._storage);
    collectStorages(t.grad, into, seen);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collectStorages(v, into, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collectStorages(v, into, seen);
}

function createStorage(dtype: DType, size: number): GpuStorage {
  const s = current();
  wgslType(dtype); // rejects float64
  const bytes = Math.max(4, size * 4);
  const reused = s.pool.get(bytes)?.pop();
  if (reused) s.pooledBytes -= bytes;
  const buffer =
    reused ?? s.device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const st = new GpuStorage(buffer, dtype, size, s.device);
  registry.register(st, { buffer, device: s.device }, st);
  liveBuffers++;
  s.scopes[s.scopes.length - 1]?.add(st);
  return st;
}

function gpuStorage(st: Storage): GpuStorage {
  const g = st as GpuStorage;
  if (g.device !== state?.device) {
    throw new Error("this webgpu tensor belongs to a device that was released (releaseWebGPU()); create it again after initWebGPU()");
  }
  if (g.destroyed) {
    throw new Error("this webgpu tensor's memory was freed by tidy() or dispose(); return it from the tidy callback to keep it");
  }
  return g;
}

function layoutFor(s: State, buffers: number): GPUBindGroupLayout {
  let layout = s.layouts.get(buffers);
  if (!layout) {
    const entries: GPUBindGroupLayoutEntry[] = [];
    for (let i = 0; i <= buffers; i++) {
      entries.push({
        binding: i,
        visibility: GPUShaderStage.COMPUTE,
        buffer: i === 0 ? { type: "storage" } : i === buffers ? { type: "read-only-storage", hasDynamicOffset: true } : { type: "read-only-storage" },
      });
    }
    layout = s.device.createBindGroupLayout({ entries });
    s.layouts.set(buffers, layout);
  }
  return layout;
}

/** A compute pipeline per kernel (sources are cached by their key). */
function pipeline(s: State, key: string, source: () => string, buffers: number): GPUComputePipeline {
  let p = s.pipelines.get(key);
  if (!p) {
    const module = s.device.createShaderModule({ code: source() });
    const layout = s.device.createPipelineLayout({ bindGroupLayouts: [layoutFor(s, buffers)] });
    p = s.device.createComputePipeline({ layout, compute: { module, entryPoint: "main" } });
    s.pipelines.set(key, p);
  }
  return p;
}

function bindGroup(s: State, buffers: GPUBuffer[]): GPUBindGroup {
  const ids = buffers.map((b) => {
    let id = s.bufferIds.get(b);
    if (id === undefined) s.bufferIds.set(b, (id = s.nextBufferId++));
    return id;
  });
  const key = ids.join(",");
  let group = s.bindGroups.get(key);
  if (!group) {
    if (s.bindGroups.size >= 20_000) s.bindGroups.clear();
    group = s.device.createBindGroup({
      layout: layoutFor(s, buffers.length),
      entries: [
        ...buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
        { binding: buffers.length, resource: { buffer: s.params, offset: 0, size: SLOT } },
      ],
    });
    s.bindGroups.set(key, group);
  }
  return group;
}

/** The open command encoder, with no compute pass open (for copies). */
function encoderForCopy(): GPUCommandEncoder {
  const s = current();
  s.pass?.end();
  s.pass = null;
  s.encoder ??= s.device.createCommandEncoder();
  return s.encoder;
}

/**
 * Record one dispatch into the open compute pass. Its parameters go into the
 * batch's parameter buffer, written just before the batch is submitted.
 */
function dispatch(key: string, source: () => string, buffers: GPUBuffer[], params: number[], groups: [number, number, number]): void {
  const s = current();
  if (params.length > SLOT / 4) throw new Error(`webgpu: too many kernel parameters (${params.length}); tensors of more than 8 dimensions are not supported`);
  if (s.pending >= BATCH) flush();
  const p = pipeline(s, key, source, buffers.length);
  const slot = s.pending++;
  s.paramData.set(params, (slot * SLOT) / 4);
  const group = bindGroup(s, buffers);
  s.encoder ??= s.device.createCommandEncoder();
  s.pass ??= s.encoder.beginComputePass();
  s.pass.setPipeline(p);
  s.pass.setBindGroup(0, group, [slot * SLOT]);
  s.pass.dispatchWorkgroups(...groups);
}

/** Submit recorded work (queue order puts the parameter write before it). */
export function flush(): void {
  const s = state;
  if (!s || !s.encoder) return;
  s.pass?.end();
  s.pass = null;
  if (s.pending) s.device.queue.writeBuffer(s.params, 0, s.paramData, 0, (s.pending * SLOT) / 4);
  s.device.queue.submit([s.encoder.finish()]);
  s.encoder = null;
  s.pending = 0;
  for (const { buffer, device } of unreachable.splice(0)) {
    if (device === s.device) {
      liveBuffers--;
      recycle(s, buffer);
    } else buffer.destroy();
  }
}

/**
 * mapAsync, but never a silent hang: once seen in CI (lavapipe), a read's map
 * never resolved. Every few seconds an empty submit nudges the queue; after a
 * minute the read fails with a clear error instead of waiting forever.
 */
async function mapWithWatchdog(s: State, staging: GPUBuffer): Promise<void> {
  const mapped = staging.mapAsync(GPUMapMode.READ);
  let done = false;
  void mapped.then(
    () => (done = true),
    () => (done = true),
  );
  for (let waited = 0; !done; waited += 2) {
    if (waited >= 60) {
      staging.destroy();
      throw new Error("webgpu: reading a result from the GPU did not finish within 60 s (the device may be lost or hung)");
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([mapped.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    if (!done) s.device.queue.submit([s.device.createCommandEncoder().finish()]);
  }
  await mapped;
}

/** Workgroup counts for `n` threads of WG each, folded into 2-D past the 65535 limit. */
function groupsFor(workgroups: number): [number, number, number] {
  if (workgroups <= 65535) return [Math.max(1, workgroups), 1, 1];
  const y = Math.ceil(workgroups / 65535);
  return [Math.ceil(workgroups / y), y, 1];
}
const threads = (n: number): [number, number, number] => groupsFor(Math.ceil(n / WG));



/** c: read in order; s: one value; v: a strided view. */
function layoutOf(view: View, shape: number[]): string {
  if (view.contiguous) return view.storage.size === 1 && numel(shape) !== 1 ? "s" : "c";
  if (view.strides.every((s, i) => s === 0 || shape[i] === 1)) return "s";
  const c = contiguousStrides(shape);
  return view.strides.every((s, i) => s === c[i] || shape[i] === 1) ? "c" : "v";
}

export const webgpuBackend: Backend = {
  device: "webgpu",

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
    const size = numel(shape);
    const out = createStorage(dtype, size);
    if (size === 0) return out;
    const layout = inputs.map((v) => layoutOf(v, shape)).join("");
    const types = inputs.map((v) => v.storage.dtype);
    const vec4 =
      dtype === "float32" &&
      size % 4 === 0 &&
      types.every((t) => t === "float32") &&
      inputs.every((v, i) => layout[i] === "s" || (layout[i] === "c" && v.offset % 4 === 0));
    if (vec4) {
      const buffers = [out.buffer, ...inputs.map((v) => gpuStorage(v.storage).buffer)];
      dispatch(`ew4|${op}|${layout}`, () => elementwiseVec4Source(op, layout), buffers, [size / 4, ...inputs.map((v) => v.offset)], groupsFor(Math.min(Math.ceil(size / 4 / WG), 8192)));
      return out;
    }
    const key = `ew|${op}|${dtype}|${types.join(",")}|${layout}`;
    const meta = [size, shape.length, ...shape];
    for (const v of inputs) meta.push(v.offset, ...(v.contiguous ? contiguousStrides(shape) : v.strides));
    dispatch(key, () => elementwiseSource(op, dtype, types, layout), [out.buffer, ...inputs.map((v) => gpuStorage(v.storage).buffer)], meta, threads(size));
    return out;
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
    return out;
  },

  matmul(a, b, batch, m, k, n, aBatchStride, bBatchStride, transA, transB) {
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

  escape(storage) {
    const scopes = state?.scopes ?? [];
    for (let i = scopes.length - 1; i >= 0; i--) {
      if (scopes[i].delete(storage as GpuStorage)) {
        scopes[i - 1]?.add(storage as GpuStorage);
        return;
      }
    }
  },

  cast(x, dtype) {
    return webgpuBackend.elementwise("copy", [{ storage: x, strides: [], offset: 0, contiguous: true }], [x.size], dtype);
  },

  dispose(storage) {
    flush();
    destroy(storage as GpuStorage);
  },
};
