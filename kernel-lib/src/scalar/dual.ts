import { inspect } from "node:util";
import * as rule from "./rules";
import { checkFinite, checkNumberOperand, opError, type BinaryRule, type UnaryRule } from "./rules";
import { Variable } from "./variable";

/** A number or a Dual: every binary op accepts either. */
export type DualLike = Dual | number;

/**
 * A dual number `value + tangent·ε` with ε² = 0: forward-mode automatic
 * differentiation. Each op computes its value and, beside it, how the tangent
 * is carried through by the chain rule, so after any computation the tangent
 * holds the directional derivative along the seed tangents of the inputs.
 * No graph is kept, so there is no backward pass.
 */
export class Dual {
  constructor(
    readonly value: number,
    readonly tangent = 0,
  ) {
    if (typeof value !== "number" || !Number.isFinite(value)) throw opError("Dual", `value must be a finite number, got ${String(value)}`);
    if (typeof tangent !== "number" || !Number.isFinite(tangent)) throw opError("Dual", `tangent must be a finite number, got ${String(tangent)}`);
  }

  add(other: DualLike): Dual {
    return this.binary("add", other, rule.add);
  }
  sub(other: DualLike): Dual {
    return this.binary("sub", other, rule.sub);
  }
  mul(other: DualLike): Dual {
    return this.binary("mul", other, rule.mul);
  }
  div(other: DualLike): Dual {
    return this.binary("div", other, rule.div);
  }
  /** `other - this`. */
  rsub(other: DualLike): Dual {
    return lift("sub", other).sub(this);
  }
  /** `other / this`. */
  rdiv(other: DualLike): Dual {
    return lift("div", other).div(this);
  }
  neg(): Dual {
    return this.unary("neg", rule.neg);
  }
  /** `this ** n` for a plain-number exponent. */
  pow(n: number): Dual {
    return this.unary("pow", rule.pow(n));
  }
  exp(): Dual {
    return this.unary("exp", rule.exp);
  }
  log(): Dual {
    return this.unary("log", rule.log);
  }
  sin(): Dual {
    return this.unary("sin", rule.sin);
  }
  cos(): Dual {
    return this.unary("cos", rule.cos);
  }
  tanh(): Dual {
    return this.unary("tanh", rule.tanh);
  }
  relu(): Dual {
    return this.unary("relu", rule.relu);
  }
  sigmoid(): Dual {
    return this.unary("sigmoid", rule.sigmoid);
  }

  /** The chain rule forward: the tangent is scaled by the local derivative. */
  private unary(op: string, f: UnaryRule): Dual {
    const [v, d] = f(this.value);
    return make(op, [this.value], v, d * this.tangent);
  }
  /** The tangents of both operands, each scaled by its local derivative, summed. */
  private binary(op: string, other: DualLike, f: BinaryRule): Dual {
    const o = lift(op, other);
    const [v, da, db] = f(this.value, o.value);
    return make(op, [this.value, o.value], v, da * this.tangent + db * o.tangent);
  }

  toString(): string {
    return `Dual(value=${this.value}, tangent=${this.tangent})`;
  }
  [inspect.custom](): string {
    return this.toString();
  }
}

function lift(op: string, x: DualLike): Dual {
  if (x instanceof Dual) return x;
  checkNumberOperand(op, x, "Dual");
  return new Dual(x, 0);
}

function make(op: string, inputs: number[], value: number, tangent: number): Dual {
  checkFinite(op, inputs, value, tangent);
  return new Dual(value, tangent);
}

/**
 * The ops a function must use to be differentiable in both modes: write it
 * once against this interface and pass it to `jacobianForward` (it gets
 * Duals) or `jacobianReverse` (it gets Variables).
 */
export interface Differentiable<T> {
  add(other: T | number): T;
  sub(other: T | number): T;
  mul(other: T | number): T;
  div(other: T | number): T;
  rsub(other: T | number): T;
  rdiv(other: T | number): T;
  neg(): T;
  pow(n: number): T;
  exp(): T;
  log(): T;
  sin(): T;
  cos(): T;
  tanh(): T;
  relu(): T;
  sigmoid(): T;
}

/** A Jacobian and the number of passes it took to build it. */
export interface JacobianResult {
  /** f(x) */
  value: number[];
  /** `jacobian[i][j]` = ∂f_i/∂x_j, one row per output. */
  jacobian: number[][];
  /** Forward mode: one pass per input. Reverse mode: one forward pass, then one backward pass per output. */
  passes: number;
}

type VectorFunction<T> = (x: T[]) => T[] | T;

function checkPoint(where: string, x: readonly number[]): void {
  if (!Array.isArray(x) || x.length === 0) throw new RangeError(`${where}: x must be a non-empty array of numbers`);
  x.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v)) throw new RangeError(`${where}: x[${i}] must be a finite number, got ${String(v)}`);
  });
}

function outputs<T>(where: string, y: T[] | T, kind: new (...a: never[]) => T): T[] {
  const ys = Array.isArray(y) ? y : [y];
  if (ys.length === 0) throw new RangeError(`${where}: f returned no outputs`);
  ys.forEach((v, i) => {
    if (!(v instanceof kind)) {
      throw new TypeError(`${where}: output ${i} of f is ${typeof v === "number" ? `the plain number ${v}` : String(v)}, not a ${kind.name}; it does not depend on x`);
    }
  });
  return ys;
}

/**
 * Forward mode: seed input j with tangent 1 (the others 0) and run f once per
 * input; each pass yields column j of the Jacobian. n inputs, n passes.
 */
export function jacobianForward(f: VectorFunction<Dual>, x: readonly number[]): JacobianResult {
  checkPoint("jacobianForward", x);
  let value: number[] = [];
  const columns: number[][] = [];
  for (let j = 0; j < x.length; j++) {
    const ys = outputs("jacobianForward", f(x.map((v, k) => new Dual(v, k === j ? 1 : 0))), Dual);
    value = ys.map((d) => d.value);
    columns.push(ys.map((d) => d.tangent));
  }
  const jacobian = value.map((_, i) => columns.map((col) => col[i]));
  return { value, jacobian, passes: x.length };
}

/**
 * Reverse mode: run f once on Variables, then one backward pass per output;
 * each yields row i of the Jacobian. m outputs, m backward passes.
 */
export function jacobianReverse(f: VectorFunction<Variable>, x: readonly number[]): JacobianResult {
  checkPoint("jacobianReverse", x);
  const xs = x.map((v) => new Variable(v));
  const ys = outputs("jacobianReverse", f(xs), Variable);
  const jacobian = ys.map((y) => {
    for (const v of xs) v.zeroGrad();
    y.backward();
    return xs.map((v) => v.grad);
  });
  return { value: ys.map((y) => y.data), jacobian, passes: ys.length };
}

/** df/dx of a one-input function, by one forward-mode pass. */
export function derivative(f: (x: Dual) => Dual, x: number): number {
  const y = f(new Dual(x, 1));
  if (!(y instanceof Dual)) throw new TypeError(`derivative: f returned ${String(y)}, not a Dual; it does not depend on x`);
  return y.tangent;
}
