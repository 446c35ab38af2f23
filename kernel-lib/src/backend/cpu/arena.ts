import { PATHS } from "./paths";
import { reserve, wasmKernels, type Kernels } from "./wasm";

/**
 * Large float32 tensors live inside the WebAssembly memory the kernels use,
 * so a kernel reads its operands and writes its result in place, and a
 * training step reuses the same memory instead of allocating (and
 * zero-filling) fresh arrays.
 *
 * What JavaScript allows decides the design. A storage's memory can be given
 * back at once by tidy() and dispose(); a FinalizationRegistry gives back
 * that of storages the program dropped, but its callbacks run only between
 * tasks, never inside a synchronous training loop. So the arena keeps at most
 * ARENA.budget bytes of tensors: past that, the least recently used storage
 * (except the operands of the op running now) is evicted, its values copied
 * out to an ordinary array that the garbage collector owns. A loop without
 * tidy() then stays within the budget at the price of one copy per dropped
 * tensor; with tidy() nothing is copied at all. An evicted tensor comes back
 * into the arena the next time a kernel needs it.
 */
export const ARENA = {
  /** storages of at least this many values live in the arena: smaller ones never reach a WebAssembly kernel alone */
  minValues: PATHS.wasmElementwise,
  /** bytes of resident tensors kept before the least recently used is evicted */
  budget: 64 * 2 ** 20,
  /** the arena's memory never grows past this (free lists that fit no request are then dropped) */
  cap: 512 * 2 ** 20,
} as const;

/** A storage's place in the arena; `data` views it there, or holds its values once evicted. */
export interface Block {
  ptr: number;
  bytes: number;
  data: Float32Array;
  /** the op that last used it (the op running now never evicts its own operands) */
  stamp: number;
}

/** No values: a block's data before it has its place, a small storage's after it is freed. */
export const EMPTY = new Float32Array(0);

const ALIGN = 64;
const free = new Map<number, number[]>(); // bytes -> free offsets of that size
let top = ALIGN; // (offset 0 is never handed out)
let residentBytes = 0;
/** Scratch handed out to the op running now: offset -> bytes. */
const inUse = new Map<number, number>();
/** Resident blocks, least recently used first (a Set keeps insertion order). */
const resident = new Set<Block>();
/** The current op: bumped by each backend call (see `enter`). */
let epoch = 0;

/** What the arena has done (see cpuMemory). */
const arenaStats = { evicted: 0, evictedBytes: 0, scratchBytes: 0, finalized: 0 };

// A storage the program dropped gives its block back when the collector finds it.
const dropped = new FinalizationRegistry<Block>((b) => {
  if (resident.has(b)) {
    arenaStats.finalized++;
    leave(b);
  }
});

/** A new backend op begins: what it touches from here on is safe from eviction until the next. */
export function enter(): void {
  epoch++;
}

/** Mark a block used by the current op (and most recently used). */
export function touch(b: Block): void {
  if (b.stamp !== epoch) {
    b.stamp = epoch;
    if (resident.delete(b)) resident.add(b);
  }
}

const round = (bytes: number): number => Math.ceil(bytes / ALIGN) * ALIGN;

/** Bytes of the memory, from the free lists or the top; null when it cannot be had. */
function take(w: Kernels, bytes: number): number | null {
  const list = free.get(bytes);
  if (list !== undefined && list.length > 0) return list.pop()!;
  if (top + bytes > ARENA.cap) {
    // free blocks of other sizes are stranded below the top: where nothing resident lies above them, drop them
    free.clear();
    let high = ALIGN;
    for (const b of resident) high = Math.max(high, b.ptr + b.bytes);
    for (const [p, n] of inUse) high = Math.max(high, p + n);
    top = high;
    if (top + bytes > ARENA.cap) return null;
  }
  const p = top;
  top += bytes;
  reserve(w, top);
  return p;
}

function give(ptr: number, bytes: number): void {
  let list = free.get(bytes);
  if (list === undefined) free.set(bytes, (list = []));
  list.push(ptr);
}

function leave(b: Block): void {
  resident.delete(b);
  residentBytes -= b.bytes;
  give(b.ptr, b.bytes);
  b.ptr = -1;
}

/** Evict least recently used blocks until `bytes` more fit in the budget (never those of the current op). */
function makeRoom(bytes: number): void {
  if (residentBytes + bytes <= ARENA.budget) return;
  for (const b of resident) {
    if (residentBytes + bytes <= ARENA.budget) break;
    if (b.stamp === epoch) continue;
    evict(b);
  }
}

/** Copy a block's values out to an ordinary array and give its memory back. */
function evict(b: Block): void {
  // (an ordinary array: set() copies out of a shared memory twice as fast as slice() does)
  const copy = new Float32Array(b.data.length);
  copy.set(b.data);
  b.data = copy;
  arenaStats.evicted++;
  arenaStats.evictedBytes += b.bytes;
  leave(b);
  // (the registry would hold the block, and the copy, until its callback could run: after the loop)
  dropped.unregister(b);
}

/**
 * A block for `n` float32 values owned by `owner` (its storage), zero-filled
 * if asked, or null where the arena does not take it (too small or too large,
 * or no WebAssembly): the caller then uses an ordinary array.
 */
export function allocate(owner: object, n: number, zero: boolean): Block | null {
  if (n < ARENA.minValues) return null;
  const bytes = round(4 * n);
  if (bytes > ARENA.budget / 4) return null;
  const w = wasmKernels();
  if (!w) return null;
  const b: Block = { ptr: -1, bytes, data: EMPTY, stamp: epoch };
  const view = admit(w, owner, b, n);
  if (view === null) return null;
  if (zero) view.fill(0);
  b.data = view;
  return b;
}

/** Give block `b` (not resident) memory for its `n` values, making room first: a view of it, or null where there is none. */
function admit(w: Kernels, owner: object, b: Block, n: number): Float32Array | null {
  makeRoom(b.bytes);
  const ptr = take(w, b.bytes);
  if (ptr === null) return null;
  b.ptr = ptr;
  resident.add(b);
  residentBytes += b.bytes;
  dropped.register(owner, b, b);
  return new Float32Array(w.memory.buffer, ptr, n);
}

/** Give a block back now (tidy, dispose). */
export function release(b: Block): void {
  if (b.ptr >= 0) leave(b);
  dropped.unregister(b);
}

/** The block's byte offset in the memory, bringing an evicted block back first; null if it cannot come back. */
export function residentPtr(owner: object, b: Block): number | null {
  if (b.ptr < 0) {
    const view = admit(wasmKernels()!, owner, b, b.data.length);
    if (view === null) return null;
    view.set(b.data);
    b.data = view;
  }
  touch(b);
  return b.ptr;
}

/** Scratch memory for one op (packing panels, copies of operands that are not resident); give it back with `freeScratch`. */
export function scratch(w: Kernels, bytes: number): number {
  const r = round(Math.max(bytes, ALIGN));
  const p = take(w, r);
  if (p === null) throw new Error(`kernel-lib: the CPU's WebAssembly memory is full (${top} bytes in use, ${r} more wanted)`);
  arenaStats.scratchBytes += r;
  inUse.set(p, r);
  return p;
}
export function freeScratch(ptr: number): void {
  const r = inUse.get(ptr);
  if (r === undefined) return;
  inUse.delete(ptr);
  give(ptr, r);
}

/** What the CPU keeps in its WebAssembly memory, in bytes (cpuMemory() in the public API). */
export interface CpuMemory {
  /** the WebAssembly memory's size: it grows to about ARENA.budget and stays there */
  memoryBytes: number;
  /** tensors resident in it now, and their bytes (at most ARENA.budget) */
  residentTensors: number;
  residentBytes: number;
  /** the budget, past which the least recently used tensor is evicted */
  budgetBytes: number;
  /** since the start: tensors evicted (values copied out), and their bytes */
  evictedTensors: number;
  evictedBytes: number;
  /** since the start: bytes of scratch for operands not resident (small tensors, float64 casts) and packing */
  scratchBytes: number;
  /** since the start: dropped tensors whose memory the garbage collector gave back */
  collectedTensors: number;
}
export function cpuMemory(): CpuMemory {
  const w = wasmKernels();
  return {
    memoryBytes: w ? w.memory.buffer.byteLength : 0,
    residentTensors: resident.size,
    residentBytes,
    budgetBytes: ARENA.budget,
    evictedTensors: arenaStats.evicted,
    evictedBytes: arenaStats.evictedBytes,
    scratchBytes: arenaStats.scratchBytes,
    collectedTensors: arenaStats.finalized,
  };
}
