/// <reference types="@webgpu/types" />
/**
 * GPU memory: the storages behind tensors, a pool of freed buffers reused
 * before new ones are made, and the count of live ones. The engine's scopes
 * (tidy, dispose) release storages; unreachable ones are reclaimed here.
 */
import type { DType, Storage } from "../backend";
import { current, peek, type State } from "./device";
import { wgslType } from "./kernels";

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

// Buffers released by tidy() or dispose(), likewise waiting for the next submit.
const released: Array<{ buffer: GPUBuffer; device: GPUDevice }> = [];

const POOL_BYTES = 1 << 30;

/** Live GPU buffers (for checking that training loops do not leak). */
export function liveBufferCount(): number {
  return liveBuffers;
}

/** Forget every count (the device was destroyed with its buffers). */
export function resetMemory(): void {
  liveBuffers = 0;
  unreachable.length = 0;
  released.length = 0;
}

/**
 * Free a storage's memory now (it becomes unusable): tidy() and dispose().
 * `submitted` says the work recorded so far, which may read it, is submitted.
 */
export function release(st: GpuStorage, submitted: boolean): void {
  if (st.destroyed) return;
  st.destroyed = true;
  registry.unregister(st);
  const s = peek();
  if (!s || st.device !== s.device) return void st.buffer.destroy();
  liveBuffers--;
  // Reused at once when nothing recorded can still read it (the pool then
  // hands buffers out in the same order every training step, so the bind
  // groups cached for them are found again), else after the next submit.
  if (submitted) recycle(s, st.buffer);
  else released.push({ buffer: st.buffer, device: st.device });
}

/** After a submit: buffers nobody can use any more go back to the pool. */
export function reclaim(s: State): void {
  for (const { buffer, device } of unreachable.splice(0)) {
    if (device === s.device) {
      liveBuffers--;
      recycle(s, buffer);
    } else buffer.destroy();
  }
  for (const { buffer, device } of released.splice(0)) {
    if (device === s.device) recycle(s, buffer);
    else buffer.destroy();
  }
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

export function createStorage(dtype: DType, size: number): GpuStorage {
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
  return st;
}

export function gpuStorage(st: Storage): GpuStorage {
  const g = st as GpuStorage;
  if (g.device !== peek()?.device) {
    throw new Error("this webgpu tensor belongs to a device that was released (releaseWebGPU()); create it again after initWebGPU()");
  }
  if (g.destroyed) {
    throw new Error("this webgpu tensor's memory was freed by tidy() or dispose(); return it from the tidy callback to keep it");
  }
  return g;
}

