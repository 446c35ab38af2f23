/**
 * Function transforms, named and shaped as in torch.func (and JAX): they take
 * a function of tensors and give a function that returns its derivatives.
 *
 * - reverse mode: `grad`, `gradAndValue`, `vjp`, `jacrev`, built on the
 *   recorded graph (one backward pass per output element for `jacrev`);
 * - forward mode: `jvp`, `jacfwd`, built on the tangents every op carries
 *   (../tensor/forward: one forward pass, no backward);
 * - both: `hessian` (forward-over-reverse, jacfwd of jacrev) and `hvp`
 *   (a Hessian-vector product without forming the Hessian).
 *
 * Transforms compose (`jacfwd(jacrev(f))`, `grad(grad(f))`): each one works
 * on its own copies of the inputs, so an outer transform sees through an inner.
 */
import { Tensor, isFloat, type Device } from "../tensor/tensor";
import { enableGrad, isGradEnabled } from "../tensor/autograd";
import { setTangent, tangentAt, withLevel } from "../tensor/forward";
import { fromValues, full } from "../tensor/engine";
import { fmt, sameShape } from "../tensor/shape";
import * as ops from "../tensor/ops";

type T = Tensor<Device>;
/** A function of tensors (other arguments pass through unchanged). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TensorFunction<R = any> = (...args: any[]) => R;
/** What a transform can differentiate: one tensor, or a list of them. */
export type Tensors<D extends Device = Device> = Tensor<D> | Array<Tensor<D>>;

export interface GradOptions {
  /** Which arguments to differentiate with respect to (default 0); a list gives a list of gradients. */
  argnums?: number | number[];
  /** `f` returns `[output, aux]`: aux is passed back untouched, beside the gradient. */
  hasAux?: boolean;
}

const isTensor = (x: unknown): x is T => x instanceof Tensor;

function argList(name: string, args: unknown[], argnums: number | number[]): number[] {
  const nums = Array.isArray(argnums) ? argnums : [argnums];
  if (nums.length === 0) throw new RangeError(`${name}: argnums is empty`);
  for (const i of nums) {
    if (!Number.isInteger(i) || i < 0 || i >= args.length) {
      throw new RangeError(`${name}: argnums ${i} is out of range for a call with ${args.length} argument${args.length === 1 ? "" : "s"}`);
    }
  }
  return nums;
}

function checkInput(name: string, x: unknown, what: string): T {
  if (!isTensor(x)) throw new TypeError(`${name}: ${what} must be a Tensor, got ${x === null ? "null" : typeof x}`);
  if (!isFloat(x.dtype)) {
    throw new TypeError(`${name}: ${what} is ${x.dtype === "int32" ? "an" : "a"} ${x.dtype} tensor of shape ${fmt(x.shape)}; derivatives need a floating-point one (convert with .float())`);
  }
  return x;
}

function checkOutput(name: string, out: unknown): T {
  if (!isTensor(out)) throw new TypeError(`${name}: the function must return a Tensor, got ${out === null ? "null" : Array.isArray(out) ? "an array" : typeof out}`);
  if (!isFloat(out.dtype)) throw new TypeError(`${name}: the function returned a ${out.dtype} tensor; derivatives need a floating-point one`);
  return out;
}

/** `out`, which must be a single value for `name` (grad, hessian, hvp). */
function singleValue(name: string, out: T): T {
  if (out.size !== 1) {
    throw new RangeError(`${name}: the function must return a single value (a tensor with one element), got shape ${fmt(out.shape)}${name === "grad" ? "; use vjp or jacrev for a tensor output" : ""}`);
  }
  return out;
}

const zeros = (shape: number[], like: T): T => full(shape, 0, like.dtype, like.device);
const zerosLike = (x: T): T => zeros(x.shape, x);

/**
 * The inputs as a transform sees them: a copy of each differentiated argument
 * (same memory) that requires grad, still connected to the original, so that
 * an outer transform differentiates through this one.
 */
function watch(name: string, args: unknown[], nums: number[]): { call: unknown[]; xs: T[] } {
  const call = [...args];
  const xs = nums.map((i) => {
    const x = ops.alias(checkInput(name, args[i], `argument ${i}`));
    if (!x.requiresGrad) x.requiresGrad_();
    call[i] = x;
    return x;
  });
  return { call, xs };
}

/** The gradients of `out` (seeded with `seed`) with respect to `xs`, zeros where it does not depend on one. */
function pull(out: T, xs: T[], seed: T | undefined, outer: T[]): T[] {
  // Record this backward pass only if something outside differentiates through it.
  const createGraph = isGradEnabled() && outer.some((x) => x.requiresGrad);
  return ops.gradients(out, xs, seed, createGraph).map((g, i) => g ?? zerosLike(xs[i]));
}

/**
 * `grad(f)(...args)`: the gradient of `f`, a function returning a single
 * value, with respect to argument 0 (or those `argnums` names), as
 * torch.func.grad. With `hasAux`, `f` returns `[value, aux]` and the result
 * is `[gradient, aux]`.
 */
export function grad<A extends unknown[], D extends Device>(f: (...args: A) => Tensor<D>, options?: { argnums?: number; hasAux?: false }): (...args: A) => Tensor<D>;
export function grad<A extends unknown[], D extends Device>(f: (...args: A) => Tensor<D>, options: { argnums: number[]; hasAux?: false }): (...args: A) => Array<Tensor<D>>;
export function grad<A extends unknown[], D extends Device, X>(f: (...args: A) => [Tensor<D>, X], options: { argnums?: number; hasAux: true }): (...args: A) => [Tensor<D>, X];
export function grad(f: TensorFunction, options?: GradOptions): TensorFunction;
export function grad(f: TensorFunction, options: GradOptions = {}): TensorFunction {
  const g = gradAndValue(f, options);
  return (...args) => {
    const [gr, value] = g(...args) as [unknown, unknown];
    return options.hasAux ? [gr, (value as unknown[])[1]] : gr;
  };
}

/** Like `grad`, but returns `[gradient, value]` (with `hasAux`: `[gradient, [value, aux]]`). */
export function gradAndValue<A extends unknown[], D extends Device>(f: (...args: A) => Tensor<D>, options?: { argnums?: number; hasAux?: false }): (...args: A) => [Tensor<D>, Tensor<D>];
export function gradAndValue<A extends unknown[], D extends Device>(f: (...args: A) => Tensor<D>, options: { argnums: number[]; hasAux?: false }): (...args: A) => [Array<Tensor<D>>, Tensor<D>];
export function gradAndValue<A extends unknown[], D extends Device, X>(f: (...args: A) => [Tensor<D>, X], options: { argnums?: number; hasAux: true }): (...args: A) => [Tensor<D>, [Tensor<D>, X]];
export function gradAndValue(f: TensorFunction, options?: GradOptions): TensorFunction;
export function gradAndValue(f: TensorFunction, options: GradOptions = {}): TensorFunction {
  const argnums = options.argnums ?? 0;
  return (...args) => {
    const nums = argList("grad", args, argnums);
    const { call, xs } = watch("grad", args, nums);
    const result = enableGrad(() => f(...call));
    let aux: unknown;
    let value: unknown = result;
    if (options.hasAux) {
      if (!Array.isArray(result) || result.length !== 2) throw new TypeError("grad: with hasAux the function must return [output, aux]");
      [value, aux] = result;
    }
    const out = singleValue("grad", checkOutput("grad", value));
    const grads = pull(out, xs, undefined, nums.map((i) => args[i] as T));
    const gr = Array.isArray(argnums) ? grads : grads[0];
    return [gr, options.hasAux ? [out, aux] : out];
  };
}

/**
 * `vjp(f, ...primals)` returns `[output, vjpFn]`: `vjpFn(cotangent)` gives
 * the gradient of sum(output * cotangent) with respect to each primal (a
 * list, one per primal), as torch.func.vjp. `vjpFn` can be called many
 * times. For a function returning a list of tensors, pass a list of
 * cotangents.
 */
export function vjp<A extends Array<Tensor<D>>, R extends Tensors<D>, D extends Device>(f: (...args: A) => R, ...primals: A): [R, (cotangent: R) => Array<Tensor<D>>];
export function vjp(f: TensorFunction, ...primals: T[]): [Tensors, (cotangent: Tensors) => T[]];
export function vjp(f: TensorFunction, ...primals: T[]): [Tensors, (cotangent: Tensors) => T[]] {
  if (primals.length === 0) throw new RangeError("vjp: needs at least one primal");
  const nums = primals.map((_, i) => i);
  const { call, xs } = watch("vjp", primals, nums);
  const out: unknown = enableGrad(() => f(...call));
  const outs = (Array.isArray(out) ? out : [out]).map((o) => checkOutput("vjp", o));
  const vjpFn = (cotangent: Tensors): T[] => {
    const cts = Array.isArray(cotangent) ? cotangent : [cotangent];
    if (cts.length !== outs.length) throw new RangeError(`vjp: ${cts.length} cotangents for ${outs.length} outputs`);
    cts.forEach((c, i) => {
      if (!isTensor(c)) throw new TypeError(`vjp: cotangent ${i} must be a Tensor, got ${typeof c}`);
      if (!sameShape(c.shape, outs[i].shape)) {
        throw new RangeError(`vjp: cotangent ${i} has shape ${fmt(c.shape)} but the output has shape ${fmt(outs[i].shape)}`);
      }
    });
    if (outs.length === 1) return pull(outs[0], xs, cts[0], primals);
    const total = enableGrad(() => outs.map((o, i) => ops.sum(ops.mul(o, ops.detach(cts[i])))).reduce((a, b) => ops.add(a, b)));
    return pull(total, xs, undefined, primals);
  };
  return [out as Tensors, vjpFn];
}

/**
 * `jvp(f, primals, tangents)` returns `[output, tangentOut]`: the derivative
 * of `f` at the primals in the direction of the tangents, by forward mode
 * (one pass that carries a tangent beside every value; no backward), as
 * torch.func.jvp. A function returning a list gives a list of tangents.
 */
export function jvp<A extends Array<Tensor<D>>, R extends Tensors<D>, D extends Device>(f: (...args: A) => R, primals: A, tangents: Array<Tensor<D>>): [R, R];
export function jvp(f: TensorFunction, primals: T[], tangents: T[]): [Tensors, Tensors];
export function jvp(f: TensorFunction, primals: T[], tangents: T[]): [Tensors, Tensors] {
  if (!Array.isArray(primals) || !Array.isArray(tangents)) throw new TypeError("jvp: primals and tangents must be lists of tensors: jvp(f, [x], [v])");
  if (primals.length !== tangents.length) throw new RangeError(`jvp: ${primals.length} primals but ${tangents.length} tangents`);
  if (primals.length === 0) throw new RangeError("jvp: needs at least one primal");
  primals.forEach((p, i) => {
    checkInput("jvp", p, `primal ${i}`);
    const t = tangents[i];
    if (!isTensor(t)) throw new TypeError(`jvp: tangent ${i} must be a Tensor, got ${typeof t}`);
    if (!sameShape(t.shape, p.shape)) throw new RangeError(`jvp: tangent ${i} has shape ${fmt(t.shape)} but primal ${i} has shape ${fmt(p.shape)}`);
    if (t.device !== p.device) throw new Error(`jvp: tangent ${i} is on ${t.device} but primal ${i} is on ${p.device}`);
  });
  return pushForward("jvp", f, primals, tangents, 0);
}

/**
 * One forward pass of f at the primals carrying the tangents at a new level;
 * with `lead` = 1 each tangent holds a batch of directions in its first
 * dimension (jacfwd).
 */
function pushForward(name: string, f: TensorFunction, primals: T[], tangents: T[], lead: number): [Tensors, Tensors] {
  return withLevel((level) => {
    const duals = primals.map((p, i) => {
      const d = ops.alias(p);
      setTangent(d, level, ops.cast(tangents[i], p.dtype));
      return d;
    });
    const out: unknown = f(...duals);
    const batch = tangents[0].shape.slice(0, lead);
    const tangentOf = (o: unknown): T => {
      const t = tangentAt(checkOutput(name, o), level);
      (o as T)._tangents?.delete(level); // (the level ends here: free the tangent with it)
      return t ?? zeros([...batch, ...(o as T).shape], o as T);
    };
    const tangent = Array.isArray(out) ? out.map(tangentOf) : tangentOf(out);
    return [out as Tensors, tangent];
  }, lead);
}

/** How many tangent values jacfwd carries per pass at most (directions times the input's size). The directions are made a chunk at a time too. */
const JACFWD_BATCH = 1 << 20;

/** Rows `from` to `from + count` of the identity of size like.size, each shaped as `like`: [count, ...like.shape]. */
function basis(from: number, count: number, like: T): T {
  const n = like.size;
  const values = new Float64Array(count * n);
  for (let i = 0; i < count; i++) values[i * n + from + i] = 1;
  return fromValues(values, [count, ...like.shape], like.dtype, like.device);
}

/**
 * `jacrev(f)(...args)`: the Jacobian of `f` with respect to argument 0 (or
 * those `argnums` names) by reverse mode: one backward pass per element of
 * the output, shape [...output shape, ...input shape]. Cheap when the output
 * is small.
 */
export function jacrev<A extends unknown[], D extends Device>(f: (...args: A) => Tensor<D>, argnums?: number): (...args: A) => Tensor<D>;
export function jacrev<A extends unknown[], D extends Device>(f: (...args: A) => Tensor<D>, argnums: number[]): (...args: A) => Array<Tensor<D>>;
export function jacrev(f: TensorFunction, argnums?: number | number[]): TensorFunction;
export function jacrev(f: TensorFunction, argnums: number | number[] = 0): TensorFunction {
  return (...args) => {
    const nums = argList("jacrev", args, argnums);
    const { call, xs } = watch("jacrev", args, nums);
    const out = checkOutput("jacrev", enableGrad(() => f(...call)));
    const m = out.size;
    const rows = Array.from({ length: m }, (_, i) => pull(out, xs, ops.reshape(basis(i, 1, out), out.shape), nums.map((j) => args[j] as T)));
    const jac = xs.map((x, k) => (m === 0 ? zeros([...out.shape, ...x.shape], x) : ops.reshape(ops.stack(rows.map((r) => r[k])), [...out.shape, ...x.shape])));
    return Array.isArray(argnums) ? jac : jac[0];
  };
}

/**
 * `jacfwd(f)(...args)`: the Jacobian of `f` with respect to argument 0 (or
 * those `argnums` names) by forward mode, shape [...output shape, ...input
 * shape]: one forward pass that carries a tangent per element of the input
 * (a batch of directions, in chunks for a large input). Cheap when the input
 * is small.
 */
export function jacfwd<A extends unknown[], D extends Device>(f: (...args: A) => Tensor<D>, argnums?: number): (...args: A) => Tensor<D>;
export function jacfwd<A extends unknown[], D extends Device>(f: (...args: A) => Tensor<D>, argnums: number[]): (...args: A) => Array<Tensor<D>>;
export function jacfwd(f: TensorFunction, argnums?: number | number[]): TensorFunction;
export function jacfwd(f: TensorFunction, argnums: number | number[] = 0): TensorFunction {
  return (...args) => {
    const nums = argList("jacfwd", args, argnums);
    const jac = nums.map((i) => {
      const x = checkInput("jacfwd", args[i], `argument ${i}`);
      const n = x.size;
      const fi = (xi: T) => {
        const call = [...args];
        call[i] = xi;
        return f(...call);
      };
      if (n === 0) {
        const out = checkOutput("jacfwd", fi(x));
        return zeros([...out.shape, ...x.shape], x);
      }
      // the directions in chunks, so that a large input does not multiply every intermediate by its size at once
      const chunk = Math.max(1, Math.min(n, Math.floor(JACFWD_BATCH / n)));
      const parts: T[] = [];
      for (let j = 0; j < n; j += chunk) {
        parts.push(checkOutput("jacfwd", pushForward("jacfwd", fi, [x], [basis(j, Math.min(chunk, n - j), x)], 1)[1]));
      }
      const t = parts.length === 1 ? parts[0] : ops.cat(parts, 0); // [n, ...output shape]
      const outShape = t.shape.slice(1);
      return ops.reshape(ops.permute(t, [...outShape.map((_, i) => i + 1), 0]), [...outShape, ...x.shape]);
    });
    return Array.isArray(argnums) ? jac : jac[0];
  };
}

/**
 * `hessian(f)(...args)`: the matrix of second derivatives of `f` (a
 * function returning a single value), shape [...input shape, ...input
 * shape]: forward over reverse, jacfwd(jacrev(f)), as torch.func.hessian.
 */
export function hessian<A extends unknown[], D extends Device>(f: (...args: A) => Tensor<D>, argnums?: number): (...args: A) => Tensor<D>;
export function hessian<A extends unknown[], D extends Device>(f: (...args: A) => Tensor<D>, argnums: number[]): (...args: A) => Array<Tensor<D>>;
export function hessian(f: TensorFunction, argnums?: number | number[]): TensorFunction;
export function hessian(f: TensorFunction, argnums: number | number[] = 0): TensorFunction {
  const single = (...args: unknown[]) => ops.reshape(singleValue("hessian", checkOutput("hessian", f(...args))), []);
  return jacfwd(jacrev(single, argnums), argnums);
}

/**
 * `hvp(f, x, v)` returns `[f(x), H v]`: the Hessian of `f` at x times the
 * vector v, without forming the Hessian (forward over reverse: one forward
 * pass that carries a tangent through one backward pass), as
 * torch.autograd.functional.hvp.
 */
export function hvp<D extends Device>(f: (x: Tensor<D>) => Tensor<D>, x: Tensor<D>, v: Tensor<D>): [Tensor<D>, Tensor<D>];
export function hvp(f: TensorFunction, x: T, v: T): [T, T] {
  checkInput("hvp", x, "x");
  if (!isTensor(v) || !sameShape(v.shape, x.shape)) {
    throw new RangeError(`hvp: v must be a tensor of x's shape ${fmt(x.shape)}, got ${isTensor(v) ? fmt(v.shape) : typeof v}`);
  }
  const gv = gradAndValue((xi: T) => singleValue("hvp", checkOutput("hvp", f(xi))));
  const [[, value], [hv]] = jvp((xi: T) => gv(xi) as T[], [x], [v]) as [T[], T[]];
  return [value, hv];
}
