/**
 * Checking derivatives against central finite differences, as
 * torch.autograd.gradcheck and gradgradcheck: for every output and every
 * checked input, the Jacobian from backward passes against the one from
 * perturbing each input element by ±eps, in float64.
 */
import { Tensor, isFloat, type Device } from "../tensor/tensor";
import { capability, fromValues, full } from "../tensor/engine";
import * as ops from "../tensor/ops";
import { jvp, vjp, type Tensors } from "./index";

type T = Tensor<Device>;

export interface GradcheckOptions {
  /** The finite-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance, against the numerical value (default 1e-3). */
  rtol?: number;
  /** Throw an error that names the mismatch (default); false: return false instead. */
  raiseException?: boolean;
  /** Also check forward mode: each Jacobian column from jvp (default false, as torch). */
  checkForwardAD?: boolean;
}

/** The checked function's outputs as a list. */
const listOf = (out: unknown, name: string): T[] => {
  const outs = Array.isArray(out) ? out : [out];
  outs.forEach((o, i) => {
    if (!(o instanceof Tensor)) throw new TypeError(`${name}: the function must return a Tensor or a list of them; output ${i} is ${typeof o}`);
  });
  return outs as T[];
};

const at = (shape: number[], flat: number): string => {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(flat % shape[d]);
    flat = Math.floor(flat / shape[d]);
  }
  return `[${idx.join(", ")}]`;
};

/**
 * Check the gradients of `f` at `inputs` against finite differences: returns
 * true, or throws an error naming the output, the input, the elements and
 * both values (with `raiseException: false`, returns false). The inputs
 * checked are those that require grad (all floating-point ones if none
 * does); they must be float64 on a device that has it (the CPU).
 */
export function gradcheck(f: (...inputs: T[]) => Tensors, inputs: T[], options: GradcheckOptions = {}): boolean {
  return check("gradcheck", f, inputs, options);
}

/**
 * Check the second derivatives of `f`: gradcheck of the function that maps
 * (inputs, gradOutputs) to the gradients of sum(f(inputs) * gradOutputs),
 * with random gradOutputs unless given, as torch.autograd.gradgradcheck.
 */
export function gradgradcheck(f: (...inputs: T[]) => Tensors, inputs: T[], gradOutputs?: T[], options: GradcheckOptions = {}): boolean {
  const checked = chosen("gradgradcheck", inputs);
  const outs = listOf(f(...inputs), "gradgradcheck");
  const gos = gradOutputs ?? outs.map(random);
  if (gos.length !== outs.length) throw new RangeError(`gradgradcheck: ${gos.length} gradOutputs for ${outs.length} outputs`);
  const n = checked.length;
  const first = (...xs: T[]): T[] => {
    const call = [...inputs];
    checked.forEach((i, k) => (call[i] = xs[k]));
    const [, back] = vjp((...ys: T[]) => {
      const c = [...call];
      checked.forEach((i, k) => (c[i] = ys[k]));
      return f(...c);
    }, ...xs.slice(0, n));
    return back(outs.length === 1 ? xs[n] : xs.slice(n));
  };
  const args = [...checked.map((i) => inputs[i]), ...gos].map((x) => ops.detach(x).requiresGrad_());
  return check("gradgradcheck", first, args, options);
}

/** Values of `like`'s shape, dtype and device. */
const tensorOf = (values: ArrayLike<number>, like: T): T => fromValues(values, like.shape, like.dtype, like.device);

/** Uniform values in [-1, 1) of o's shape, from a fixed sequence (so that a failing check fails again). */
function random(o: T): T {
  let state = 12345;
  const v = Array.from({ length: o.size }, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return (2 * state) / 2147483648 - 1;
  });
  return tensorOf(v, o);
}

/** Which inputs are checked: those requiring grad, else every floating-point one. */
function chosen(name: string, inputs: T[]): number[] {
  if (!Array.isArray(inputs) || inputs.length === 0) throw new TypeError(`${name}: inputs must be a non-empty list of tensors`);
  let idx = inputs.flatMap((x, i) => (x instanceof Tensor && x.requiresGrad ? [i] : []));
  if (idx.length === 0) idx = inputs.flatMap((x, i) => (x instanceof Tensor && isFloat(x.dtype) ? [i] : []));
  if (idx.length === 0) throw new TypeError(`${name}: no floating-point input to check`);
  for (const i of idx) {
    const x = inputs[i];
    if (x.dtype !== "float64") {
      throw new TypeError(
        `${name}: input ${i} is ${x.dtype}; finite differences need float64 to be meaningful (make it with { dtype: "float64" } or .double())` +
          (capability(x.device, "float64") ? "" : `, and ${x.device} has no float64: check on the CPU`),
      );
    }
  }
  return idx;
}

function check(name: string, f: (...inputs: T[]) => Tensors, inputs: T[], options: GradcheckOptions): boolean {
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-3, raiseException = true, checkForwardAD = false } = options;
  const checked = chosen(name, inputs);
  const fail = (message: string): boolean => {
    if (raiseException) throw new Error(`${name}: ${message}`);
    return false;
  };
  const base = checked.map((i) => ops.detach(inputs[i]));
  const call = (xs: T[]) => {
    const c = [...inputs];
    checked.forEach((i, k) => (c[i] = xs[k]));
    return listOf(f(...c), name);
  };
  const [outValue, back] = vjp((...xs: T[]) => call(xs), ...base);
  const outs = outValue as T[];
  // analytical: one backward pass per output element
  const analytical = outs.map((o, oi) =>
    Array.from({ length: o.size }, (_, e) => {
      const cts = outs.map((p, pi) => {
        const v = new Float64Array(p.size);
        if (pi === oi) v[e] = 1;
        return tensorOf(v, p);
      });
      return back(cts).map((g) => ops.data(g) as Float64Array);
    }),
  );
  // numerical: central differences, one input element at a time
  for (let k = 0; k < checked.length; k++) {
    const x = base[k];
    const values = ops.data(x) as Float64Array;
    for (let j = 0; j < x.size; j++) {
      const moved = (d: number) => {
        const v = Float64Array.from(values);
        v[j] += d;
        const xs = base.map((b, q) => (q === k ? tensorOf(v, x) : b));
        return call(xs).map((o) => ops.data(o) as Float64Array);
      };
      const [up, down] = [moved(eps), moved(-eps)];
      // column j of input k's Jacobian, by another route (`what` names it), against the central differences
      const mismatch = (what: string, label: string, got: (oi: number, e: number) => number): string | null => {
        for (let oi = 0; oi < outs.length; oi++) {
          for (let e = 0; e < outs[oi].size; e++) {
            const numerical = (up[oi][e] - down[oi][e]) / (2 * eps);
            const value = got(oi, e);
            if (!(Math.abs(value - numerical) <= atol + rtol * Math.abs(numerical))) {
              return (
                `${what}mismatch for output ${oi} element ${at(outs[oi].shape, e)} with respect to input ${checked[k]} element ${at(x.shape, j)}: ` +
                `${label} ${value}, numerical ${numerical} (atol ${atol}, rtol ${rtol})`
              );
            }
          }
        }
        return null;
      };
      const backwards = mismatch("Jacobian ", "analytical", (oi, e) => analytical[oi][e][k][j]);
      if (backwards !== null) return fail(backwards);
      if (checkForwardAD) {
        const v = new Float64Array(x.size);
        v[j] = 1;
        const tangents = base.map((b, q) => (q === k ? tensorOf(v, x) : full(b.shape, 0, b.dtype, b.device)));
        const [, tOut] = jvp((...xs: T[]) => call(xs), base, tangents);
        const ts = (tOut as T[]).map((t) => ops.data(t) as Float64Array);
        const forwards = mismatch("forward-mode Jacobian ", "jvp", (oi, e) => ts[oi][e]);
        if (forwards !== null) return fail(forwards);
      }
    }
  }
  return true;
}
