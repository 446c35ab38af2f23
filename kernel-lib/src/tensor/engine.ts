/**
 * The one door between the tensor ops and the backends. The engine is the
 * only module that looks a backend up: it checks devices and dtypes, lifts
 * numbers to tensors, calls the backend's primitive kernels and wraps what
 * they return in tensors, and it owns memory scopes (tidy, keep, dispose and
 * the live counts) for every device alike. The ops (./ops) are written in
 * terms of these functions and know no device.
 */
import {
  DEFAULT_DEVICE,
  getBackend,
  openDevices,
  type Backend,
  type Capabilities,
  type DType,
  type ElementwiseOp,
  type FusibleOp,
  type MatmulProblem,
  type Program,
  type ReduceOp,
  type Storage,
  type TypedArray,
  type View,
} from "../backend/backend";
import { GradNode, isGradEnabled } from "./autograd";
import { forwardActive, hasTangents, propagate, type TangentRule } from "./forward";
import { Tensor, isFloat, type Device, type StridedView, type TensorLike } from "./tensor";
import { broadcastStrides, contiguousStrides, fmt, numel, sameShape, type Shape } from "./shape";

type T = Tensor<Device>;

// ---------------------------------------------------------------- devices

const backendOf = (device: Device): Backend => getBackend(device);

/** What `device` can do (see Capabilities); throws if it is not open. */
export const capability = (device: Device, what: keyof Capabilities): boolean => backendOf(device).capabilities[what];

/** The device tensors are made on when none is named. */
export const defaultDevice = (): Device => DEFAULT_DEVICE;

/** Is `name` a dtype (rather than a device)? */
export const isDType = (name: string): name is DType => name === "float32" || name === "float64" || name === "int32" || name === "bool";

/** The common device of an op's tensors; an error names both devices otherwise. */
export function checkDevices(op: string, ts: T[]): Device {
  const device = ts[0].device;
  for (let i = 1; i < ts.length; i++) if (ts[i].device !== device) throw mixedDevices(op, device, ts[i].device);
  return device;
}

const mixedDevices = (op: string, device: Device, other: Device) =>
  new Error(`${op}: tensors are on different devices (${device} and ${other}); move one with .to("${device}")`);

export function requireFloat(op: string, t: T): void {
  if (!isFloat(t.dtype)) throw new TypeError(`${op}: needs a floating-point tensor, got ${t.dtype} (convert with .float())`);
}

/** The dtype of an arithmetic result (numbers adapt to the tensor, as in torch). */
export function promote(a: TensorLike, b: TensorLike): DType {
  const kind = (x: TensorLike): DType => (typeof x === "number" ? (Number.isInteger(x) ? "int32" : "float32") : x.dtype);
  const [ka, kb] = [kind(a), kind(b)];
  if (ka === "float64" || kb === "float64") {
    // A plain number never widens float32 to float64.
    if (typeof a === "number") return kb === "float64" ? "float64" : "float32";
    if (typeof b === "number") return ka === "float64" ? "float64" : "float32";
    return "float64";
  }
  if (isFloat(ka) || isFloat(kb)) {
    if (typeof a === "number" && b instanceof Tensor && isFloat(b.dtype)) return b.dtype;
    if (typeof b === "number" && a instanceof Tensor && isFloat(a.dtype)) return a.dtype;
    return "float32";
  }
  return "int32";
}

/** A number as a 0-d tensor of `dtype` on `device` (a tensor passes through). */
export function lift(x: TensorLike, dtype: DType, device: Device): T {
  if (x instanceof Tensor) return x;
  if (typeof x !== "number") throw new TypeError(`expected a Tensor or a number, got ${typeof x}`);
  return fromValues([x], [], dtype, device);
}

/**
 * Record `out` as produced by `name` from `inputs`, if gradients are being
 * recorded and an input requires one: `backward` turns the gradient of `out`
 * into the inputs' gradients; changing a `saved` tensor in place afterwards
 * makes the backward pass throw. Where an input carries a forward-mode
 * tangent, `tangent` gives `out` its tangent (./forward).
 */
export function record(out: T, name: string, inputs: T[], backward: (g: T) => Array<T | null>, saved: T[] = [], tangent?: TangentRule): T {
  if (recording(inputs)) out._record(new GradNode(name, inputs, backward, saved));
  if (forwardActive()) propagate(name, out, inputs, tangent);
  return out;
}

/** Would `record` record an op on `inputs`? */
export const recording = (inputs: T[]): boolean => isGradEnabled() && inputs.some((t) => t.requiresGrad);

/** Would `record` record an op on `inputs` or give it a tangent? (Ops ask first to skip building rules they would not need.) */
export const tracking = (inputs: T[]): boolean => recording(inputs) || hasTangents(inputs);

// ---------------------------------------------------------------- fusion

/**
 * Large float32 elementwise results are not computed when an op asks for
 * them: each is a Pending storage that holds its chain of ops over stored
 * values (its leaves), and an op on pending inputs of the same shape extends
 * the chain. The first use that needs the values (any other primitive, a
 * view, a read) runs the whole chain as one pass (Backend.fused), and a sum
 * over the trailing axes of a pending result runs the chain and sums without
 * storing it. The values are bit for bit those of the ops run one at a time.
 * A leaf written in place or freed while a pending result still reads it is
 * copied first (see Ref), so a pending result always sees the values its ops
 * saw.
 */
const FUSE = {
  /** results at least this large wait to be fused; smaller ones run at once, where a pass over memory costs less than the bookkeeping */
  minSize: 4096,
  /** a chain reads at most this many stored values (WebGPU binds 8 buffers: these, the result and the parameters) */
  inputs: 6,
  steps: 32,
} as const;
/** KERNEL_LIB_FUSE=0 runs every op at once (to compare, or to time the difference). */
const fuseOn = process.env.KERNEL_LIB_FUSE !== "0";
const FUSIBLE = new Set<string>(["copy", "neg", "exp", "log", "log1p", "sqrt", "abs", "sign", "tanh", "sigmoid", "relu", "add", "sub", "mul", "div", "pow", "maximum", "minimum"] satisfies FusibleOp[]);

/**
 * A stored value that pending results read: a storage, or once that is
 * written in place or freed while `readers` pending results still need its
 * old values, a copy of them (`snapshot`).
 */
interface Ref {
  readonly target: Storage;
  readonly device: Device;
  snapshot: Storage | null;
  readers: number;
}
/** The current Ref of each storage that pending results read. */
const refs = new WeakMap<Storage, Ref>();
interface Leaf {
  ref: Ref;
  strides: number[];
  offset: number;
  contiguous: boolean;
  key: string;
}
interface Step {
  op: FusibleOp;
  args: number[];
}

/** A float32 elementwise result not computed yet (see FUSE). */
class Pending implements Storage {
  readonly dtype = "float32";
  version = 0;
  real: Storage | null = null;
  constructor(
    readonly shape: Shape,
    readonly device: Device,
    /** value j < leaves.length is leaf j, value leaves.length + s is step s; null once computed or freed */
    public leaves: Leaf[] | null,
    public steps: Step[] | null,
  ) {}
  get size(): number {
    return numel(this.shape);
  }
}

/** The backend storage behind `s`, computing a pending result first. */
function realOf(s: Storage): Storage {
  if (!(s instanceof Pending)) return s;
  if (s.real !== null) return s.real;
  if (s.leaves === null) freedPending();
  const real = backendOf(s.device).fused(programOf(s), s.leaves.map(leafView), [...s.shape], 0);
  s.real = real;
  finish(s);
  return real;
}

function freedPending(): never {
  throw new Error("this tensor's memory was freed by tidy() or dispose(); return it from the tidy callback, or keep() it, to use it later");
}

const leafView = (l: Leaf): View => ({ storage: l.ref.snapshot ?? realOf(l.ref.target), strides: l.strides, offset: l.offset, contiguous: l.contiguous });

function programOf(p: Pending): Program {
  const steps = p.steps!;
  return { inputs: p.leaves!.length, steps, key: `${p.leaves!.length}:${steps.map((s) => `${s.op}(${s.args.join(",")})`).join("")}` };
}

/** A pending result no longer needs its leaves (computed, or freed). */
function finish(p: Pending): void {
  for (const l of p.leaves ?? []) {
    const r = l.ref;
    if (--r.readers === 0 && r.snapshot !== null) {
      backendOf(r.device).release(r.snapshot);
      r.snapshot = null;
    }
  }
  p.leaves = null;
  p.steps = null;
}

/** Before `s` is written in place or freed: pending results that read it get a copy of its values. */
function settle(s: Storage, device: Device): void {
  const r = refs.get(s);
  if (r === undefined) return;
  refs.delete(s);
  if (r.readers > 0) {
    const real = realOf(s);
    r.snapshot = backendOf(device).elementwise("copy", [{ storage: real, strides: [], offset: 0, contiguous: true }], [real.size], real.dtype);
  }
}

/** Can `op` on `inputs` wait, to be fused? */
function fusible(op: ElementwiseOp, inputs: T[], shape: Shape, dtype: DType): boolean {
  if (!fuseOn || dtype !== "float32" || !FUSIBLE.has(op) || numel(shape) < FUSE.minSize) return false;
  for (let i = 0; i < inputs.length; i++) if (inputs[i].dtype !== "float32") return false;
  return true;
}

/** `op` over `inputs` as a pending result: pending inputs of the same shape are spliced into its chain, the rest become leaves. */
function pending(op: FusibleOp, inputs: T[], shape: Shape, device: Device): T {
  const leaves: Leaf[] = [];
  const steps: Step[] = [];
  // (while building, leaf k is -(k + 1) and step s is s)
  const leafOf = (ref: Ref, v: { strides: number[]; offset: number; contiguous?: boolean }): number | null => {
    const key = `${v.offset}|${v.contiguous ? "c" : v.strides.join(",")}`;
    let k = leaves.findIndex((l) => l.ref === ref && l.key === key);
    if (k < 0) {
      if (leaves.length === FUSE.inputs) return null;
      k = leaves.push({ ref, strides: v.strides, offset: v.offset, contiguous: v.contiguous === true, key }) - 1;
      ref.readers++;
    }
    return -(k + 1);
  };
  const args = inputs.map((t) => {
    const p = t._storage;
    if (p instanceof Pending && p.leaves !== null && t._view === null && sameShape(p.shape, shape)) {
      const newLeaves = p.leaves.filter((l) => !leaves.some((m) => m.ref === l.ref && m.key === l.key)).length;
      if (leaves.length + newLeaves <= FUSE.inputs && steps.length + p.steps!.length < FUSE.steps) {
        const map = p.leaves.map((l) => leafOf(l.ref, l)!);
        const base = steps.length;
        for (const st of p.steps!) steps.push({ op: st.op, args: st.args.map((a) => (a < map.length ? map[a] : base + a - map.length)) });
        return steps.length - 1;
      }
    }
    const v = viewAs(t, shape);
    let ref = refs.get(p);
    if (ref === undefined) refs.set(p, (ref = { target: p, device, snapshot: null, readers: 0 }));
    return leafOf(ref, v);
  });
  if (args.includes(null)) {
    // (too many stored inputs to fuse: run at once)
    for (const l of leaves) l.ref.readers--;
    return fresh(backendOf(device).elementwise(op, inputs.map((t) => viewAs(t, shape)), shape, "float32"), shape, device);
  }
  steps.push({ op, args: args as number[] });
  const n = leaves.length;
  for (const st of steps) st.args = st.args.map((a) => (a < 0 ? -a - 1 : n + a));
  return fresh(new Pending(shape, device, leaves, steps), shape, device);
}

// ---------------------------------------------------------------- memory scopes

/** Storages made inside one tidy() call, still owned by it. */
type Scope = Map<Storage, Device>;
const scopes: Scope[] = [];
/** The scope that owns each storage (absent: no scope; it lives until dispose() or garbage collection). */
const owner = new WeakMap<Storage, Scope>();

/** A tensor around a storage a backend has just made: owned by the innermost tidy(). */
function fresh(storage: Storage, shape: Shape, device: Device): T {
  const scope = scopes[scopes.length - 1];
  if (scope !== undefined) {
    scope.set(storage, device);
    owner.set(storage, scope);
  }
  return new Tensor(storage, shape, device);
}

function move(storage: Storage, to: Scope | undefined): void {
  const from = owner.get(storage);
  if (from === to) return;
  // (a pending result leaving its scope is computed now: its leaves may be freed with the scope)
  if (from !== undefined && storage instanceof Pending) realOf(storage);
  const device = from?.get(storage);
  from?.delete(storage);
  if (to === undefined || device === undefined) owner.delete(storage);
  else {
    to.set(storage, device);
    owner.set(storage, to);
  }
}

/**
 * Run `fn` and free the memory of every tensor made inside it (on every
 * device), except what it returns (a tensor, or arrays and plain objects of
 * them, with their gradients) and what `keep()` marked. Tensors made before
 * keep their memory, including values written into them in place.
 */
export function tidy<R>(fn: () => R): R {
  const scope: Scope = new Map();
  scopes.push(scope);
  let result: R;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    freeScope(scope);
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    // Nothing can be freed safely while the callback is still running.
    for (const storage of scope.keys()) move(storage, scopes[scopes.length - 1]);
    throw new TypeError("tidy: the callback returned a promise; tidy() takes a synchronous function (await outside it)");
  }
  const parent = scopes[scopes.length - 1];
  const kept = new Set<Storage>();
  collectStorages(result, kept);
  for (const storage of kept) if (owner.get(storage) === scope) move(storage, parent);
  freeScope(scope);
  return result;
}

function freeScope(scope: Scope): void {
  // pending results first, so that the stored values only they read are not copied
  for (const storage of scope.keys()) if (storage instanceof Pending && storage.real === null) finish(storage);
  for (const [storage, device] of scope) {
    owner.delete(storage);
    free(storage, device);
  }
  scope.clear();
}

function free(storage: Storage, device: Device): void {
  settle(storage, device);
  if (storage instanceof Pending) {
    finish(storage);
    if (storage.real !== null) backendOf(device).release(storage.real);
    storage.leaves = null; // (any later use is an error)
    storage.real = null;
  } else backendOf(device).release(storage);
}

function collectStorages(value: unknown, into: Set<Storage>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Tensor) {
    into.add(value._storage);
    collectStorages(value.grad, into, seen);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collectStorages(v, into, seen);
  else if (value instanceof Map) for (const v of value.values()) collectStorages(v, into, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collectStorages(v, into, seen);
}

/** Take `t`'s memory out of every tidy() scope: it lives until `dispose()` or until nothing references it. */
export function keep<X extends T>(t: X): X {
  move(t._storage, undefined);
  return t;
}

/** `t`'s memory now lives as long as `holder`'s (a gradient stored into a leaf made outside the scope). */
export function keepWith(t: T, holder: T): void {
  move(t._storage, owner.get(holder._storage));
}

/** Free `t`'s memory now; tensors sharing it (views, detach) become unusable too. */
export function dispose(t: T): void {
  owner.get(t._storage)?.delete(t._storage);
  owner.delete(t._storage);
  free(t._storage, t.device);
}

/** How many storages hold memory on `device`, or on every open device. */
export function liveCount(device?: Device): number {
  if (device !== undefined) return backendOf(device).liveCount();
  return openDevices().reduce((n, b) => n + b.liveCount(), 0);
}

// ---------------------------------------------------------------- views

/** The strides of `t`'s elements in its storage. */
export const stridesOf = (t: T): readonly number[] => t._view?.strides ?? contiguousStrides(t.shape);
export const offsetOf = (t: T): number => t._view?.offset ?? 0;

/** Row-major with no gaps (possibly at an offset into a larger storage)? */
export function isContiguous(t: T): boolean {
  if (t._view === null) return true;
  const own = contiguousStrides(t.shape);
  return t._view.strides.every((s, i) => s === own[i] || t.shape[i] === 1);
}

/** A tensor of `shape` reading `t`'s memory through `strides` from `offset`: a view, no copy. */
export function view(t: T, shape: Shape, strides: readonly number[], offset: number): T {
  const own = contiguousStrides(shape);
  const whole = offset === 0 && numel(shape) === t._storage.size && strides.every((s, i) => s === own[i] || shape[i] === 1);
  return new Tensor(t._storage, shape, t.device, whole ? null : ({ strides: [...strides], offset } satisfies StridedView));
}

/** `t`'s elements as `shape` (same count) on the same memory; `t` must be contiguous. */
export function sharing(t: T, shape: Shape): T {
  if (!isContiguous(t)) throw new Error("internal error: sharing() of a tensor that is not contiguous");
  return view(t, shape, contiguousStrides(shape), offsetOf(t));
}

/** The same tensor cut from the graph (same memory). */
export const detached = <X extends T>(t: X): X => new Tensor(t._storage, t.shape, t.device, t._view) as X;

/** `t` itself if it is a whole storage in order, else a copy that is. */
export function dense(t: T): T {
  return t._view === null ? t : copyView(t, t.shape, t._view.strides, t._view.offset);
}
const storageOf = (t: T): Storage => realOf(dense(t)._storage);

// ---------------------------------------------------------------- the primitives, on tensors

/** A tensor from flat values. */
export function fromValues<D extends Device>(values: ArrayLike<number>, shape: Shape, dtype: DType, device: D): Tensor<D> {
  return fresh(backendOf(device).fromArray(values, dtype), shape, device) as Tensor<D>;
}

/** The tensor's values (a copy), synchronously where the device can. */
export function read(t: T): TypedArray | Promise<TypedArray> {
  return backendOf(t.device).read(storageOf(t));
}

/** How `t` reads as an array of `shape` it broadcasts to. */
function viewAs(t: T, shape: Shape): View {
  const storage = realOf(t._storage);
  if (t._view === null) {
    return sameShape(t.shape, shape)
      ? { storage, strides: [], offset: 0, contiguous: true }
      : { storage, strides: broadcastStrides(t.shape, shape), offset: 0 };
  }
  return stridedViewAs(t, shape, storage);
}

function stridedViewAs(t: T, shape: Shape, storage: Storage): View {
  const own = t._view!.strides;
  const lead = shape.length - t.ndim;
  return { storage, strides: shape.map((_, i) => (i < lead || t.shape[i - lead] === 1 ? 0 : own[i - lead])), offset: t._view!.offset };
}

/** `op` elementwise over `inputs` broadcast to `shape`, giving `dtype`. */
export function elementwise(op: ElementwiseOp, inputs: T[], shape: Shape, dtype: DType): T {
  const device = checkDevices(op, inputs);
  if (fusible(op, inputs, shape, dtype)) return pending(op as FusibleOp, inputs, shape, device);
  // (plain loops: this is the per-op overhead of every small op)
  const views: View[] = new Array(inputs.length);
  for (let i = 0; i < inputs.length; i++) views[i] = viewAs(inputs[i], shape);
  return fresh(backendOf(device).elementwise(op, views, shape, dtype), shape, device);
}

/** A contiguous copy of a strided view of `x`'s memory. */
function copyView(x: T, shape: Shape, strides: readonly number[], offset: number): T {
  return fresh(backendOf(x.device).elementwise("copy", [{ storage: realOf(x._storage), strides: [...strides], offset }], shape, x.dtype), shape, x.device);
}

/** A tensor of `shape` filled with `value`. */
export function full(shape: Shape, value: number, dtype: DType, device: Device): T {
  const one = fromValues([value], [], dtype, device);
  return copyView(one, shape, shape.map(() => 0), 0);
}

/** Reduce `x` over `axes`; the result has `shape` (the axes dropped or kept as 1). */
export function reduce(op: ReduceOp, x: T, axes: number[], shape: Shape): T {
  const p = x._storage;
  if (op === "sum" && p instanceof Pending && p.leaves !== null && x._view === null && sameShape(p.shape, x.shape)) {
    // a sum over trailing axes runs the chain and sums as it goes: the pending result is never stored
    const sorted = [...axes].sort((a, b) => a - b);
    if (sorted.length > 0 && sorted.every((a, i) => a === x.ndim - sorted.length + i)) {
      const R = numel(sorted.map((a) => x.shape[a]));
      if (R > 0) return fresh(backendOf(x.device).fused(programOf(p), p.leaves.map(leafView), [...p.shape], R), shape, x.device);
    }
  }
  return fresh(backendOf(x.device).reduce(op, storageOf(x), x.shape, axes), shape, x.device);
}

export function argReduce(op: "max" | "min", x: T, axis: number, shape: Shape): T {
  return fresh(backendOf(x.device).argReduce(op, storageOf(x), x.shape, axis), shape, x.device);
}

/** `batch` products op(A) [m, k] by op(B) [k, n], op transposing where its flag is set; the result has `shape`. */
export function matmul(a: T, b: T, p: Omit<MatmulProblem, "aBatchStride" | "bBatchStride">, shape: Shape): T {
  const device = checkDevices("matmul", [a, b]);
  // A view that is the transpose of a whole matrix (w.T) is read in place: its flag flips.
  const flipA = isWholeTranspose(a);
  const flipB = isWholeTranspose(b);
  const problem: MatmulProblem = {
    batch: p.batch,
    m: p.m,
    k: p.k,
    n: p.n,
    aBatchStride: p.m * p.k,
    bBatchStride: p.k * p.n,
    transA: flipA ? !p.transA : p.transA,
    transB: flipB ? !p.transB : p.transB,
  };
  const sa = flipA ? realOf(a._storage) : storageOf(a);
  const sb = flipB ? realOf(b._storage) : storageOf(b);
  return fresh(backendOf(device).matmul(sa, sb, problem), shape, device);
}

/** Is `t` a 2-D view that is the transpose of its whole storage read as a matrix? */
function isWholeTranspose(t: T): boolean {
  const v = t._view;
  return v !== null && t.ndim === 2 && v.offset === 0 && t.size === t._storage.size && v.strides[0] === 1 && v.strides[1] === t.shape[0];
}

/** `base` (contiguous) with `src` added at the positions of a view into it. */
export function viewAdd(base: T, src: T, viewShape: Shape, strides: number[], offset: number): T {
  const device = checkDevices("viewAdd", [base, src]);
  return fresh(backendOf(device).viewAdd(storageOf(base), storageOf(src), viewShape, strides, offset), base.shape, device);
}

export function gather(x: T, dim: number, index: T): T {
  const device = checkDevices("gather", [x, index]);
  return fresh(backendOf(device).gather(storageOf(x), x.shape, dim, storageOf(index), index.shape), [...index.shape], device);
}

/** Zeros of `shape` with `src` added at the positions `index` names along `dim` (gather's transpose). */
export function scatterAdd(src: T, dim: number, index: T, shape: Shape): T {
  const device = checkDevices("scatterAdd", [src, index]);
  return fresh(backendOf(device).scatterAdd(storageOf(src), index.shape, dim, storageOf(index), shape), shape, device);
}

/** The values converted to `dtype` (a new tensor; nothing recorded). */
export function convert(x: T, dtype: DType): T {
  return fresh(backendOf(x.device).cast(storageOf(x), dtype), x.shape, x.device);
}

/**
 * Overwrite `t`'s elements with `value`'s (same shape and dtype) and bump the
 * version of its memory. Through a view, only the view's elements change.
 */
export function writeInto(t: T, value: T, op: string): void {
  if (!sameShape(value.shape, t.shape) || value.dtype !== t.dtype) {
    throw new Error(`internal error: writeInto ${fmt(t.shape)} ${t.dtype} from ${fmt(value.shape)} ${value.dtype}`);
  }
  const backend = backendOf(t.device);
  const target = realOf(t._storage);
  let src: Storage;
  if (t._view === null) src = storageOf(value);
  else {
    const { strides, offset } = t._view;
    if (t.shape.some((d, i) => d > 1 && strides[i] === 0)) {
      throw new Error(`${op}: this tensor is an expanded view in which several elements share one memory location; write into a .clone() instead`);
    }
    // Scatter the new values into a copy of the whole storage, then copy that back.
    const whole = new Tensor(t._storage, [t._storage.size], t.device);
    const mask = viewAdd(full(whole.shape, 0, "int32", t.device), full(t.shape, 1, "int32", t.device), t.shape, [...strides], offset);
    const values = viewAdd(full(whole.shape, 0, t.dtype, t.device), value, t.shape, [...strides], offset);
    const hit = elementwise("gt", [mask, full([], 0, "int32", t.device)], whole.shape, "bool");
    src = storageOf(elementwise("where", [hit, values, whole], whole.shape, t.dtype));
  }
  // (pending results that read the old values keep a copy of them)
  settle(t._storage, t.device);
  backend.copyInto(target, src);
  t._storage.version++;
}

/** A copy of `t` on `device` (a new leaf); a synchronous read is needed, so the source must allow one. */
export function copyTo<D extends Device>(t: T, device: D): Tensor<D> {
  if (!capability(t.device, "syncRead")) throw new Error(`to: reading from ${t.device} is asynchronous: use await t.cpu()`);
  return fromValues(read(t) as TypedArray, t.shape, t.dtype, device);
}
