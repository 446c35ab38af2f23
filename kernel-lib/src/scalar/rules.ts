/**
 * Each scalar op once: its value and, beside it, its local derivative(s).
 * Reverse mode (Variable) stores the derivatives in the graph; forward mode
 * (Dual) multiplies them into the tangent. Bad input throws here, naming the op.
 */

/** a -> [value, d(value)/da] */
export type UnaryRule = (a: number) => [number, number];
/** (a, b) -> [value, d(value)/da, d(value)/db] */
export type BinaryRule = (a: number, b: number) => [number, number, number];

export function opError(op: string, message: string): Error {
  return new RangeError(`${op}: ${message}`);
}

/** A plain-number operand must be finite; `kind` names the class that may stand in its place. */
export function checkNumberOperand(op: string, x: unknown, kind: string): void {
  if (typeof x !== "number" || !Number.isFinite(x)) throw opError(op, `operands must be ${kind}s or finite numbers, got ${String(x)}`);
}

/** An op's value and the derivatives it carries must be finite: say which is not, at which inputs. */
export function checkFinite(op: string, inputs: number[], value: number, ...derivatives: number[]): void {
  if (!Number.isFinite(value)) throw opError(op, `${op}(${inputs.join(", ")}) is ${value}`);
  if (!derivatives.every(Number.isFinite)) throw opError(op, `the derivative of ${op} at (${inputs.join(", ")}) is not finite`);
}

export const add: BinaryRule = (a, b) => [a + b, 1, 1];
export const sub: BinaryRule = (a, b) => [a - b, 1, -1];
export const mul: BinaryRule = (a, b) => [a * b, b, a];
export const div: BinaryRule = (a, b) => {
  if (b === 0) throw opError("div", `division by zero: ${a} / 0`);
  return [a / b, 1 / b, -a / (b * b)];
};

export const neg: UnaryRule = (a) => [-a, -1];
export const exp: UnaryRule = (a) => {
  const e = Math.exp(a);
  return [e, e];
};
export const log: UnaryRule = (a) => {
  if (a <= 0) throw opError("log", `log of a non-positive number: log(${a})`);
  return [Math.log(a), 1 / a];
};
export const sin: UnaryRule = (a) => [Math.sin(a), Math.cos(a)];
export const cos: UnaryRule = (a) => [Math.cos(a), -Math.sin(a)];
export const tanh: UnaryRule = (a) => {
  const t = Math.tanh(a);
  return [t, 1 - t * t];
};
export const relu: UnaryRule = (a) => (a > 0 ? [a, 1] : [0, 0]);
export const sigmoid: UnaryRule = (a) => {
  const s = a >= 0 ? 1 / (1 + Math.exp(-a)) : Math.exp(a) / (1 + Math.exp(a));
  return [s, s * (1 - s)];
};

/** `a ** n` for a plain-number exponent n. */
export function pow(n: number): UnaryRule {
  if (typeof n !== "number" || !Number.isFinite(n)) throw opError("pow", `the exponent must be a finite number, got ${String(n)}`);
  return (a) => {
    if (a < 0 && !Number.isInteger(n)) throw opError("pow", `a negative base with a fractional exponent is not real: (${a}) ** ${n}`);
    if (a === 0 && n < 0) throw opError("pow", `division by zero: 0 ** ${n}`);
    return [a ** n, n === 0 ? 0 : n * a ** (n - 1)];
  };
}
