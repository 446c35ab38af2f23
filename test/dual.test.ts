import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Dual, Variable, derivative, jacobianForward, jacobianReverse, type Differentiable } from "kernel-lib";

// Written once against the shared interface, differentiated in both modes.
const f = <T extends Differentiable<T>>(x: T[]): T[] => [x[0].add(x[1]).mul(x[0].mul(x[1]))];
const g = <T extends Differentiable<T>>(x: T[]): T[] => [
  x[0].mul(x[1]).sin(),
  x[0].pow(2).add(x[2].exp()),
  x[2].div(x[1]).tanh(),
  x[0].sigmoid().sub(x[1].log()),
];

function central(fn: (x: number[]) => number[], x: number[], h = 1e-6): number[][] {
  const y = fn(x);
  return y.map((_, i) =>
    x.map((_, j) => {
      const up = [...x];
      const down = [...x];
      up[j] += h;
      down[j] -= h;
      return (fn(up)[i] - fn(down)[i]) / (2 * h);
    }),
  );
}
const gNumbers = (x: number[]): number[] => [
  Math.sin(x[0] * x[1]),
  x[0] ** 2 + Math.exp(x[2]),
  Math.tanh(x[2] / x[1]),
  1 / (1 + Math.exp(-x[0])) - Math.log(x[1]),
];

describe("forward mode (dual numbers)", () => {
  it("d/dx sin(x²) at 1.5 is cos(2.25)·3", () => {
    expect(derivative((x) => x.pow(2).sin(), 1.5)).toBeCloseTo(Math.cos(2.25) * 3, 14);
  });
  it("f = (x1 + x2)(x1·x2) at (2, 3): gradient (21, 16) in both modes", () => {
    const fwd = jacobianForward(f, [2, 3]);
    const rev = jacobianReverse(f, [2, 3]);
    expect(fwd).toEqual({ value: [30], jacobian: [[21, 16]], passes: 2 });
    expect(rev).toEqual({ value: [30], jacobian: [[21, 16]], passes: 1 });
  });
  it("a 3-input, 4-output Jacobian agrees across modes and with central differences", () => {
    fc.assert(
      fc.property(fc.tuple(fc.double({ min: -2, max: 2, noNaN: true }), fc.double({ min: 0.2, max: 3, noNaN: true }), fc.double({ min: -2, max: 2, noNaN: true })), (x) => {
        const fwd = jacobianForward(g, x);
        const rev = jacobianReverse(g, x);
        expect(fwd.passes).toBe(3);
        expect(rev.passes).toBe(4);
        const fd = central(gNumbers, x);
        for (let i = 0; i < 4; i++) {
          expect(fwd.value[i]).toBeCloseTo(gNumbers(x)[i], 12);
          for (let j = 0; j < 3; j++) {
            expect(fwd.jacobian[i][j]).toBeCloseTo(rev.jacobian[i][j], 12);
            expect(fwd.jacobian[i][j]).toBeCloseTo(fd[i][j], 5);
          }
        }
      }),
      { numRuns: 50 },
    );
  });
  it("relu passes the tangent on for positive inputs only", () => {
    expect(derivative((x) => x.relu(), 2)).toBe(1);
    expect(derivative((x) => x.relu(), -2)).toBe(0);
  });
  it("Variable has sin and cos with the right local derivatives", () => {
    const x = new Variable(0.7);
    x.sin().mul(x.cos()).backward();
    expect(x.grad).toBeCloseTo(Math.cos(1.4), 14); // d/dx sin x cos x = cos 2x
  });
  it("bad input fails with a message that names the op", () => {
    expect(() => new Dual(NaN)).toThrow("Dual: value must be a finite number, got NaN");
    expect(() => new Dual(1, 1).div(0)).toThrow("div: division by zero: 1 / 0");
    expect(() => new Dual(-1, 1).log()).toThrow("log: log of a non-positive number: log(-1)");
    expect(() => new Dual(-8, 1).pow(0.5)).toThrow("pow: a negative base with a fractional exponent");
    expect(() => new Dual(800, 1).exp()).toThrow("exp: exp(800) is Infinity");
    expect(() => jacobianForward(() => [], [1])).toThrow("jacobianForward: f returned no outputs");
    expect(() => jacobianReverse(() => 3 as unknown as Variable, [1])).toThrow("output 0 of f is the plain number 3, not a Variable");
    expect(() => jacobianForward(f, [])).toThrow("x must be a non-empty array");
  });
  it("prints its value and tangent", () => {
    expect(String(new Dual(2, 1).mul(3))).toBe("Dual(value=6, tangent=3)");
  });
});
