/**
 * The primitive kernels a device implements. The tensor front end composes
 * every op (and every gradient) from these, so a new backend implements only
 * this list. All storages are flat and row-major; a "view" (shape, strides,
 * offset) says how to read one, broadcasting included (stride 0).
 */

export type DType = "float32" | "float64" | "int32" | "bool";

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/** A device buffer; only its backend looks inside. */
export interface Storage {
  readonly dtype: DType;
  readonly size: number;
  /** Bumped by every in-place write; shared by all tensors on this storage. */
  version: number;
}

/** How to read a storage as an array of `shape`. */
export interface View {
  storage: Storage;
  strides: number[];
  offset: number;
  /** Set when the view is the whole storage in the shape's order (saves the backend checking strides). */
  contiguous?: boolean;
}

export type UnaryOp = "copy" | "neg" | "exp" | "log" | "log1p" | "sqrt" | "abs" | "sign" | "tanh" | "sigmoid" | "relu";
export type BinaryOp = "add" | "sub" | "mul" | "div" | "pow" | "maximum" | "minimum" | "lt" | "le" | "gt" | "ge" | "eq" | "ne";
export type ElementwiseOp = UnaryOp | BinaryOp | "where";
export type ReduceOp = "sum" | "max" | "min";
/** The elementwise ops that fuse into one pass (float32 in and out). */
export type FusibleOp = Exclude<UnaryOp | BinaryOp, "lt" | "le" | "gt" | "ge" | "eq" | "ne">;

/**
 * A chain of elementwise ops over float32 inputs, run as one pass over
 * memory. Value j < inputs is input j; step s computes value inputs + s from
 * earlier values (`args`, one per operand of its op); the last step is the
 * result. `key` names the chain (its ops and wiring) for kernel caches.
 */
export interface Program {
  readonly inputs: number;
  readonly steps: ReadonlyArray<{ readonly op: FusibleOp; readonly args: readonly number[] }>;
  readonly key: string;
}

/**
 * What a device can do. The tensor front end asks these questions and never
 * compares device names; a backend declares its answers when it registers.
 */
export interface Capabilities {
  /** Reads return the values at once (otherwise a promise). */
  readonly syncRead: boolean;
  /** float64 tensors are supported. */
  readonly float64: boolean;
}

/**
 * The devices, by name. Each backend adds its own entry with its read mode
 * (declaration merging), so the type of a read follows from the device:
 * `declare module "../backend" { interface Devices { cpu: { syncRead: true } } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Devices {}
/** Where a tensor lives. */
export type Device = keyof Devices & string;
/** The device of tensors made without a `device` option. */
export type DefaultDevice = "cpu";
export const DEFAULT_DEVICE: DefaultDevice = "cpu";
/** A value read from a tensor on D: immediate where the device reads synchronously, else a promise. */
export type Read<D extends Device, T> = D extends unknown ? (Devices[D] extends { syncRead: true } ? T : Promise<T>) : never;

/**
 * `batch` products of [m, k] by [k, n]. With transA, a holds each [m, k]
 * operand as its transpose [k, m]; with transB, b holds [n, k]. The batch
 * strides say how far apart the matrices are (0 reuses one matrix).
 */
export interface MatmulProblem {
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly aBatchStride: number;
  readonly bBatchStride: number;
  readonly transA: boolean;
  readonly transB: boolean;
}

/**
 * How a view reads its storage over `shape`: "c", in order from its offset;
 * "s", one value (every element the same); "v", strided.
 */
export function viewLayout(view: View, shape: number[]): "c" | "s" | "v" {
  // (a view marked contiguous is the whole storage in the shape's order)
  if (view.contiguous) return "c";
  if (view.strides.every((s, i) => s === 0 || shape[i] === 1)) return "s";
  const c = contiguousStrides(shape);
  return view.strides.every((s, i) => s === c[i] || shape[i] === 1) ? "c" : "v";
}

/**
 * A walk over the elements of `shape` in row-major order through `strides`:
 * `at` is the current element's position, `next()` moves on. The strided
 * loops of the backends (views, gathers, reductions) are all this one.
 */
export class StridedWalk {
  at: number;
  private readonly idx: number[];
  constructor(
    private readonly shape: readonly number[],
    private readonly strides: readonly number[],
    offset = 0,
  ) {
    this.at = offset;
    this.idx = new Array<number>(shape.length).fill(0);
  }
  /** Start again, at `offset`. */
  reset(offset: number): void {
    this.at = offset;
    this.idx.fill(0);
  }
  next(): void {
    const { idx, shape, strides } = this;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]++;
      this.at += strides[d];
      if (idx[d] < shape[d]) return;
      this.at -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

export interface Backend {
  readonly device: Device;
  readonly capabilities: Capabilities;
  fromArray(values: ArrayLike<number>, dtype: DType): Storage;
  /** The storage's contents (a copy), synchronously where the device allows. */
  read(storage: Storage): TypedArray | Promise<TypedArray>;
  /** `op` applied elementwise over views broadcast to `shape`; the result is contiguous. */
  elementwise(op: ElementwiseOp, inputs: View[], shape: number[], dtype: DType): Storage;
  /**
   * `program` over float32 views broadcast to `shape`, in one pass; or, with
   * `sumRows` = R > 0, the sums of the result's rows of R values (what
   * reduce("sum") over its trailing axes gives) without storing the result.
   * The values are those of the ops run one at a time, bit for bit.
   */
  fused(program: Program, inputs: View[], shape: number[], sumRows: number): Storage;
  /** Reduce over `axes` of a contiguous array of `shape`; the result keeps those axes with size 1. */
  reduce(op: ReduceOp, x: Storage, shape: number[], axes: number[]): Storage;
  /** Index of the max (or min) along one axis; int32, the axis kept with size 1. */
  argReduce(op: "max" | "min", x: Storage, shape: number[], axis: number): Storage;
  /** The products `p` describes (see MatmulProblem). */
  matmul(a: Storage, b: Storage, p: MatmulProblem): Storage;
  /** A copy of `base` (contiguous, `size` elements) with `src` (contiguous, `shape`) added at the positions of a view into it. */
  viewAdd(base: Storage, src: Storage, shape: number[], strides: number[], offset: number): Storage;
  /** out[..i..] = x[..index[..i..]..] along `dim` (torch.gather); index is int32 of `indexShape`. */
  gather(x: Storage, xShape: number[], dim: number, index: Storage, indexShape: number[]): Storage;
  /** The transpose of gather: zeros of `outShape` with src added at the indexed positions. */
  scatterAdd(src: Storage, indexShape: number[], dim: number, index: Storage, outShape: number[]): Storage;
  cast(x: Storage, dtype: DType): Storage;
  /** Overwrite `target` with the values of `src` (same dtype and size): in-place ops. */
  copyInto(target: Storage, src: Storage): void;
  /**
   * Give the storage's memory back now (the engine's tidy() and dispose()); later
   * use of it is an error. Unreachable storages are reclaimed by the backend itself.
   */
  release(storage: Storage): void;
  /** How many storages hold memory on this device now. */
  liveCount(): number;
}

/** Number of elements of a shape. */
export const numel = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** Row-major strides of a contiguous array of `shape`. */
export function contiguousStrides(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

const backends = new Map<string, Backend>();
/** What to do before a known device can be used (for its error message). */
const openHints = new Map<string, string>();

/** Make a device usable. Only the tensor engine looks backends up (../tensor/engine). */
export function registerBackend(backend: Backend): void {
  backends.set(backend.device, backend);
}

/** A device that exists but must be opened first, and how to open it. */
export function announceDevice(device: string, hint: string): void {
  openHints.set(device, hint);
}

export function getBackend(device: string): Backend {
  const b = backends.get(device);
  if (!b) {
    const hint = openHints.get(device);
    if (hint !== undefined) throw new Error(`the "${device}" device is not open: ${hint}`);
    const known = [...backends.keys()].join(", ");
    throw new Error(`unknown device "${device}" (available: ${known})`);
  }
  return b;
}

/** The open devices. */
export const openDevices = (): Backend[] => [...backends.values()];
