import { inspect } from "node:util";
import * as rule from "./rules";
import { checkFinite, checkNumberOperand, type BinaryRule, type UnaryRule } from "./rules";

/** A number or a Variable: every binary op accepts either on both sides. */
export type Scalar = Variable | number;

/**
 * A scalar node of a computational graph.
 *
 * Each op computes its value and, right beside it, the local derivatives of the
 * result with respect to its (at most two) inputs. `backward()` is then one
 * generic sweep: `input.grad += local * node.grad`. A plain-number operand is a
 * constant and gets no node of its own.
 */
export class Variable {
  data: number;
  grad: number;
  /** The op that produced this node ("" for a leaf). */
  readonly op: string;
  /** An optional name, shown in graph drawings. */
  label: string;
  /** @internal first input and d(this)/d(input) */
  _a: Variable | null = null;
  /** @internal */
  _da: number;
  /** @internal second input and d(this)/d(input) */
  _b: Variable | null = null;
  /** @internal */
  _db: number;
  /** @internal stamp of the last graph walk that reached this node */
  _visit = 0;
  /** @internal consumers that have not yet passed their gradient on */
  _pending = 0;

  constructor(data: number, label = "", op = "") {
    if (typeof data !== "number" || !Number.isFinite(data)) {
      throw new RangeError(`Variable: data must be a finite number, got ${String(data)}`);
    }
    // A fractional value first keeps these fields unboxed doubles in V8 from the
    // start; otherwise the first fractional write migrates every live node.
    this.data = this.grad = this._da = this._db = 0.5;
    this.data = data;
    this.grad = this._da = this._db = 0;
    this.label = label;
    this.op = op;
  }

  /** The nodes this one was computed from (empty for a leaf). */
  get inputs(): Variable[] {
    const out: Variable[] = [];
    if (this._a) out.push(this._a);
    if (this._b && this._b !== this._a) out.push(this._b);
    return out;
  }

  add(other: Scalar): Variable {
    return binary("add", this, other, rule.add);
  }
  sub(other: Scalar): Variable {
    return binary("sub", this, other, rule.sub);
  }
  mul(other: Scalar): Variable {
    return binary("mul", this, other, rule.mul);
  }
  div(other: Scalar): Variable {
    return binary("div", this, other, rule.div);
  }
  /** `other - this`, so that `1 - a` reads as `a.rsub(1)`. */
  rsub(other: Scalar): Variable {
    return binary("sub", other, this, rule.sub);
  }
  /** `other / this`. */
  rdiv(other: Scalar): Variable {
    return binary("div", other, this, rule.div);
  }
  neg(): Variable {
    return unary("neg", this, rule.neg);
  }
  /** `this ** n` for a plain-number exponent. */
  pow(n: number): Variable {
    return unary("pow", this, rule.pow(n));
  }
  exp(): Variable {
    return unary("exp", this, rule.exp);
  }
  log(): Variable {
    return unary("log", this, rule.log);
  }
  sin(): Variable {
    return unary("sin", this, rule.sin);
  }
  cos(): Variable {
    return unary("cos", this, rule.cos);
  }
  tanh(): Variable {
    return unary("tanh", this, rule.tanh);
  }
  relu(): Variable {
    return unary("relu", this, rule.relu);
  }
  sigmoid(): Variable {
    return unary("sigmoid", this, rule.sigmoid);
  }

  /**
   * Reverse-mode sweep from this node: d(this)/d(node) is added to every
   * node's `grad`. Leaves accumulate across calls (call `zeroGrad()` between
   * steps); intermediate nodes are recomputed from zero each time.
   *
   * A node passes its gradient on only once every node that consumes it has
   * passed on theirs (Kahn's order), with explicit stacks, so a chain of
   * millions of nodes neither overflows nor needs a stored ordering.
   */
  backward(): void {
    countConsumers(this);
    this.grad += 1;
    const ready: Variable[] = [this];
    while (ready.length > 0) {
      const v = ready.pop()!;
      const g = v.grad;
      const a = v._a;
      if (a !== null) {
        a.grad += v._da * g;
        if (--a._pending === 0) ready.push(a);
      }
      const b = v._b;
      if (b !== null) {
        b.grad += v._db * g;
        if (--b._pending === 0) ready.push(b);
      }
    }
  }

  zeroGrad(): void {
    this.grad = 0;
  }

  toString(): string {
    return `Variable(data=${this.data}, grad=${this.grad})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

let visitStamp = 0;

/**
 * Stamp every node reachable from `root`, count how many times each is used
 * as an input within this graph, and zero the gradients of non-leaf nodes.
 */
function countConsumers(root: Variable): void {
  const stamp = ++visitStamp;
  root._visit = stamp;
  root._pending = 0;
  if (root._a !== null) root.grad = 0;
  const stack: Variable[] = [root];
  const reach = (c: Variable): void => {
    if (c._visit !== stamp) {
      c._visit = stamp;
      c._pending = 0;
      if (c._a !== null) c.grad = 0;
      stack.push(c);
    }
    c._pending++;
  };
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (v._a !== null) reach(v._a);
    if (v._b !== null) reach(v._b);
  }
}

/** Every node reachable from `root`, the root first and each node before its inputs. */
export function topologicalOrder(root: Variable): Variable[] {
  countConsumers(root);
  const order: Variable[] = [];
  const ready: Variable[] = [root];
  while (ready.length > 0) {
    const v = ready.pop()!;
    order.push(v);
    if (v._a !== null && --v._a._pending === 0) ready.push(v._a);
    if (v._b !== null && --v._b._pending === 0) ready.push(v._b);
  }
  return order;
}

/** Wrap a number as a constant leaf; a Variable passes through. */
export function lift(x: Scalar): Variable {
  return x instanceof Variable ? x : new Variable(x);
}

function checkOperand(op: string, x: Scalar): void {
  if (!(x instanceof Variable)) checkNumberOperand(op, x, "Variable");
}

function unary(op: string, x: Variable, f: UnaryRule): Variable {
  const [value, da] = f(x.data);
  if (!(Number.isFinite(value) && Number.isFinite(da))) checkFinite(op, [x.data], value, da);
  const out = new Variable(value, "", op);
  out._a = x;
  out._da = da;
  return out;
}

function binary(op: string, x: Scalar, y: Scalar, f: BinaryRule): Variable {
  checkOperand(op, x);
  checkOperand(op, y);
  const a = x instanceof Variable ? x.data : x;
  const b = y instanceof Variable ? y.data : y;
  const [value, da, db] = f(a, b);
  if (!(Number.isFinite(value) && Number.isFinite(da) && Number.isFinite(db))) checkFinite(op, [a, b], value, da, db);
  const out = new Variable(value, "", op);
  // A plain-number operand is a constant: no node, no gradient.
  if (x instanceof Variable) {
    out._a = x;
    out._da = da;
  }
  if (y instanceof Variable) {
    if (out._a === null) {
      out._a = y;
      out._da = db;
    } else {
      out._b = y;
      out._db = db;
    }
  }
  return out;
}

/** `x + y` for any mix of numbers and Variables. */
export function add(x: Scalar, y: Scalar): Variable {
  return binary("add", x, y, rule.add);
}
/** `x - y`; `sub(1, a)` is one minus a. */
export function sub(x: Scalar, y: Scalar): Variable {
  return binary("sub", x, y, rule.sub);
}
/** `x * y`; `mul(2, a)` is two times a. */
export function mul(x: Scalar, y: Scalar): Variable {
  return binary("mul", x, y, rule.mul);
}
/** `x / y`; `div(1, a)` is the reciprocal of a. */
export function div(x: Scalar, y: Scalar): Variable {
  return binary("div", x, y, rule.div);
}
/** The sum of many terms as one pass, e.g. a loss over a data set. */
export function sum(terms: Iterable<Scalar>): Variable {
  let total: Variable | null = null;
  let constant = 0;
  for (const t of terms) {
    if (t instanceof Variable) total = total === null ? t : total.add(t);
    else {
      checkOperand("sum", t);
      constant += t;
    }
  }
  if (total === null) return new Variable(constant);
  return constant === 0 ? total : total.add(constant);
}
