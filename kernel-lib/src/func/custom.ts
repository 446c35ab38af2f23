/**
 * Ops with a hand-written gradient, as torch.autograd.Function: the forward
 * runs without recording, and the op enters the graph as one node whose
 * backward (and, for forward mode, tangent rule) is the one given.
 */
import { Tensor, type Device } from "../tensor/tensor";
import { noGrad } from "../tensor/autograd";
import { detached, full, record } from "../tensor/engine";
import { fmt, sameShape } from "../tensor/shape";
import * as ops from "../tensor/ops";

type T = Tensor<Device>;

/** What forward leaves for backward (and jvp), as torch's ctx. */
export interface OpContext {
  /** Keep tensors for backward; an in-place change to one of them afterwards makes backward throw. */
  saveForBackward(...tensors: T[]): void;
  /** The tensors saved, in order (inputs and the output come back connected to the graph, so a backward written with tensor ops can be differentiated again). */
  readonly saved: T[];
  /** For each tensor input: does it need a gradient? */
  readonly needsInputGrad: boolean[];
  /** Anything else forward wants to pass on (numbers, shapes). */
  [key: string]: unknown;
}

export interface CustomOpDefinition {
  /** Shown as gradFn=<nameBackward> and in error messages. */
  name: string;
  /** Compute the output from the inputs (tensors and other arguments, as given); nothing here is recorded. */
  forward(ctx: OpContext, ...args: any[]): T; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The gradient of each tensor input (null for none), given the output's gradient. One input: a tensor alone will do. */
  backward(ctx: OpContext, gradOutput: T): Array<T | null> | T | null;
  /** Forward mode: the output's tangent, given each tensor input's tangent (zeros where it has none). Needed for jvp, jacfwd and hessian. */
  jvp?(ctx: OpContext, ...tangents: T[]): T;
}

/** A function applying the op, as `MyOp.apply(x)` in torch. */
export type CustomOp = ((...args: any[]) => T) & { readonly opName: string }; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Define an op by its forward and its backward (and optionally its tangent
 * rule for forward mode): `const myExp = customOp({ name: "MyExp", forward(ctx,
 * x) {...}, backward(ctx, g) {...} })`, then `myExp(x)`. It works in
 * backward() and in every transform, and `gradcheck(myExp, [x])` checks it.
 */
export function customOp(def: CustomOpDefinition): CustomOp {
  const { name } = def;
  if (typeof def.forward !== "function" || typeof def.backward !== "function") {
    throw new TypeError(`customOp ${name}: needs forward(ctx, ...inputs) and backward(ctx, gradOutput)`);
  }
  const apply = (...args: unknown[]): T => {
    const inputs = args.filter((a): a is T => a instanceof Tensor);
    // forward sees its inputs cut from the graph (and from forward mode); saving one of them saves the original
    const cut = args.map((a) => (a instanceof Tensor ? detached(a) : a));
    const original = new Map<unknown, T>(cut.map((c, i) => [c, args[i]] as [unknown, T]).filter(([, a]) => a instanceof Tensor));
    let out: T | undefined;
    let producedValue: T | undefined;
    const kept: T[] = [];
    const ctx: OpContext = {
      saveForBackward: (...ts: T[]) => kept.push(...ts),
      get saved() {
        return kept.map((t) => original.get(t) ?? (t === producedValue ? out! : t));
      },
      needsInputGrad: inputs.map((t) => t.requiresGrad),
    };
    const value = noGrad(() => def.forward(ctx, ...cut));
    if (!(value instanceof Tensor)) throw new TypeError(`${name}.forward must return a Tensor, got ${typeof value}`);
    producedValue = value;
    out = detached(value);
    const backward = (g: T): Array<T | null> => {
      const r = def.backward(ctx, g);
      const grads = Array.isArray(r) ? r : [r];
      if (grads.length !== inputs.length) {
        throw new Error(`${name}.backward returned ${grads.length} gradient${grads.length === 1 ? "" : "s"} for ${inputs.length} tensor input${inputs.length === 1 ? "" : "s"}`);
      }
      return grads.map((gi, i) => {
        if (gi === null || gi === undefined) return null;
        if (!(gi instanceof Tensor)) throw new TypeError(`${name}.backward: gradient ${i} must be a Tensor or null, got ${typeof gi}`);
        if (!sameShape(gi.shape, inputs[i].shape)) {
          throw new RangeError(`${name}.backward: gradient ${i} has shape ${fmt(gi.shape)} but input ${i} has shape ${fmt(inputs[i].shape)}`);
        }
        return gi;
      });
    };
    const rule = (ts: Array<T | null>): T => {
      const t = def.jvp!(ctx, ...ts.map((x, i) => x ?? full(inputs[i].shape, 0, inputs[i].dtype, inputs[i].device)));
      if (!(t instanceof Tensor) || !sameShape(t.shape, out!.shape)) {
        throw new RangeError(`${name}.jvp must return a tensor of the output's shape ${fmt(out!.shape)}, got ${t instanceof Tensor ? fmt(t.shape) : typeof t}`);
      }
      return t;
    };
    // a batch of directions (jacfwd) goes through the rule one direction at a time
    const tangent = def.jvp
      ? (ts: Array<T | null>, lead: number) => {
          if (lead === 0) return rule(ts);
          const n = ts.find((t) => t !== null)!.shape[0];
          return ops.stack(Array.from({ length: n }, (_, j) => rule(ts.map((t) => (t === null ? null : ops.index(t, j))))));
        }
      : () => {
          throw new Error(`jvp: ${name} is a custom op without a tangent rule: give its definition jvp(ctx, ...tangents) to use it in jvp, jacfwd and hessian`);
        };
    return record(out, `${name}Backward`, inputs, backward, ctx.saved, tangent);
  };
  return Object.assign(apply, { opName: name });
}
