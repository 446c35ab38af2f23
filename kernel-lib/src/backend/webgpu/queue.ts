/// <reference types="@webgpu/types" />
/**
 * The queue: pipelines and bind groups (cached), dispatches recorded into one
 * compute pass, their parameters in one buffer, a submit every BATCH
 * dispatches or before a read, and reads that never hang silently.
 */
import { BATCH, SLOT, current, peek, type State } from "./device";
import { WG } from "./kernels";
import { reclaim } from "./memory";

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
export function encoderForCopy(): GPUCommandEncoder {
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
export function dispatch(key: string, source: () => string, buffers: GPUBuffer[], params: number[], groups: [number, number, number]): void {
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
  const s = peek();
  if (!s || !s.encoder) return;
  s.pass?.end();
  s.pass = null;
  if (s.pending) s.device.queue.writeBuffer(s.params, 0, s.paramData, 0, (s.pending * SLOT) / 4);
  s.device.queue.submit([s.encoder.finish()]);
  s.encoder = null;
  s.pending = 0;
  reclaim(s);
}

/**
 * mapAsync, but never a silent hang: once seen in CI (lavapipe), a read's map
 * never resolved. Every few seconds an empty submit nudges the queue; after a
 * minute the read fails with a clear error instead of waiting forever.
 */
export async function mapWithWatchdog(s: State, staging: GPUBuffer): Promise<void> {
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
export function groupsFor(workgroups: number): [number, number, number] {
  if (workgroups <= 65535) return [Math.max(1, workgroups), 1, 1];
  const y = Math.ceil(workgroups / 65535);
  return [Math.ceil(workgroups / y), y, 1];
}
export const threads = (n: number): [number, number, number] => groupsFor(Math.ceil(n / WG));
