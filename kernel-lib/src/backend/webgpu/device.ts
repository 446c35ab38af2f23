/// <reference types="@webgpu/types" />
/** The GPU device: opening it, its state, closing it. */

/** What the lesson shows about the GPU in use. */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  maxStorageBufferBindingSize: number;
}

export interface State {
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
  error?: Error;
}
let state: State | null = null;

/** Kernel parameters: one 256-byte slot per dispatch, BATCH dispatches per submit. */
export const SLOT = 256;
export const BATCH = 64;

export const INSTALL_HINT =
  "No WebGPU adapter. In Node this needs a Vulkan driver: on Debian/Ubuntu without a GPU, install Mesa's lavapipe " +
  "(Debian 12: `apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`; Mesa 25 or newer); with an " +
  "NVIDIA GPU, the driver's Vulkan ICD and libvulkan1. In a browser, use one with WebGPU enabled.";

/** The open device's state; an error if none is open. */
export function current(): State {
  if (state === null) throw new Error("WebGPU is not initialised: run `await initWebGPU()` first (see isWebGPUAvailable())");
  return state;
}

/** The open device's state, or null. */
export const peek = (): State | null => state;

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

/** Open the GPU (once); throws with what to install when there is no adapter. */
export async function openDevice(): Promise<State> {
  if (state) return state;
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
  };
  device.lost.then(() => {
    if (state?.device === device) state = null;
  });
  // Validation and out-of-memory errors arrive asynchronously; the next read reports them.
  device.addEventListener("uncapturederror", (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    if (state?.device === device) state.error ??= new Error(`WebGPU error: ${error.message}`);
  });
  return state;
}

/** Forget the device and destroy it (every buffer goes with it). */
export function closeDevice(): void {
  if (!state) return;
  const s = state;
  state = null;
  s.pipelines.clear();
  s.device.destroy();
}
