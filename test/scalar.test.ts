import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Variable, add, sub, mul, div, sum, Random, type Scalar } from "kernel-lib";

/** Central finite difference of f at x. */
function numericGrad(f: (xs: number[]) => number, xs: number[], i: number, h = 1e-6): number {
  const up = [...xs];
  const down = [...xs];
  up[i] += h;
  down[i] -= h;
  return (f(up) - f(down)) / (2 * h);
}

function expectClose(actual: number, expected: number, rel = 1e-5, abs = 1e-6): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(abs + rel * Math.abs(expected));
}

type Op = { name: string; arity: 1 | 2; f: (v: Variable[]) => Variable; domain: fc.Arbitrary<number[]> };

const real = fc.double({ min: -5, max: 5, noNaN: true }).filter((x) => Math.abs(x) > 1e-3);
const positive = fc.double({ min: 0.05, max: 5, noNaN: true });
const pair = fc.tuple(real, real).map((t) => [...t]);

const ops: Op[] = [
  { name: "add", arity: 2, f: ([a, b]) => a.add(b), domain: pair },
  { name: "sub", arity: 2, f: ([a, b]) => a.sub(b), domain: pair },
  { name: "mul", arity: 2, f: ([a, b]) => a.mul(b), domain: pair },
  { name: "div", arity: 2, f: ([a, b]) => a.div(b), domain: fc.tuple(real, real.filter((b) => Math.abs(b) > 0.1)).map((t) => [...t]) },
  { name: "neg", arity: 1, f: ([a]) => a.neg(), domain: real.map((x) => [x]) },
  { name: "pow 3", arity: 1, f: ([a]) => a.pow(3), domain: real.map((x) => [x]) },
  { name: "pow -2", arity: 1, f: ([a]) => a.pow(-2), domain: real.filter((x) => Math.abs(x) > 0.2).map((x) => [x]) },
  { name: "pow 0.5", arity: 1, f: ([a]) => a.pow(0.5), domain: positive.map((x) => [x]) },
  { name: "exp", arity: 1, f: ([a]) => a.exp(), domain: real.map((x) => [x]) },
  { name: "log", arity: 1, f: ([a]) => a.log(), domain: positive.map((x) => [x]) },
  { name: "tanh", arity: 1, f: ([a]) => a.tanh(), domain: real.map((x) => [x]) },
  { name: "relu", arity: 1, f: ([a]) => a.relu(), domain: real.filter((x) => Math.abs(x) > 1e-3).map((x) => [x]) },
  { name: "sigmoid", arity: 1, f: ([a]) => a.sigmoid(), domain: real.map((x) => [x]) },
  // A composite where inputs feed several nodes (the case a visited-set recursion gets wrong).
  {
    name: "diamond (a*b+1)*(a*b*2)/(a+3)",
    arity: 2,
    f: ([a, b]) => {
      const h = a.mul(b);
      return h.add(1).mul(h.mul(2)).div(a.add(3));
    },
    domain: fc.tuple(fc.double({ min: 0.1, max: 4, noNaN: true }), real).map((t) => [...t]),
  },
];

describe("Variable gradients match central finite differences", () => {
  for (const op of ops) {
    it(op.name, () => {
      fc.assert(
        fc.property(op.domain, (xs) => {
          const vars = xs.map((x) => new Variable(x));
          const out = op.f(vars);
          out.backward();
          const value = (ys: number[]) => op.f(ys.map((y) => new Variable(y))).data;
          vars.forEach((v, i) => expectClose(v.grad, numericGrad(value, xs, i), 1e-4, 1e-5));
        }),
        { numRuns: 200, seed: 7 },
      );
    });
  }
});

describe("Variable values", () => {
  it("computes what plain arithmetic computes", () => {
    const a = new Variable(1.5);
    expect(a.add(2).data).toBe(3.5);
    expect(a.sub(2).data).toBe(-0.5);
    expect(a.mul(2).data).toBe(3);
    expect(a.div(2).data).toBe(0.75);
    expect(a.neg().data).toBe(-1.5);
    expect(a.pow(2).data).toBe(2.25);
    expect(a.exp().data).toBeCloseTo(Math.exp(1.5), 15);
    expect(a.log().data).toBeCloseTo(Math.log(1.5), 15);
    expect(a.tanh().data).toBeCloseTo(Math.tanh(1.5), 15);
    expect(a.neg().relu().data).toBe(0);
    expect(a.sigmoid().data).toBeCloseTo(1 / (1 + Math.exp(-1.5)), 15);
    expect(new Variable(-800).sigmoid().data).toBe(0);
  });

  it("takes numbers on either side", () => {
    const a = new Variable(4);
    const twoA = mul(2, a);
    const oneMinus = sub(1, a);
    const recip = div(1, a);
    const plus = add(3, a);
    expect([twoA.data, oneMinus.data, recip.data, plus.data, a.rsub(1).data, a.rdiv(2).data]).toEqual([8, -3, 0.25, 7, -3, 0.5]);
    sum([twoA, oneMinus, recip, plus]).backward();
    expect(a.grad).toBeCloseTo(2 - 1 - 1 / 16 + 1, 12);
  });

  it("sums many terms and constants", () => {
    const xs = [1, 2, 3].map((x) => new Variable(x));
    const s = sum<Scalar>([...xs, 10]);
    expect(s.data).toBe(16);
    s.backward();
    expect(xs.map((x) => x.grad)).toEqual([1, 1, 1]);
    expect(sum([]).data).toBe(0);
  });
});

describe("reference values from the lectures", () => {
  it("MSE gradient at w=(1,2), x=3, y=4 is (6, 18)", () => {
    const w0 = new Variable(1);
    const w1 = new Variable(2);
    const h3 = sub(4, w1.mul(3).add(w0));
    h3.mul(h3).backward();
    expect([w0.grad, w1.grad]).toEqual([6, 18]);
  });

  it("a*b + a + b at (2, 3) gives grads 4 and 3", () => {
    const a = new Variable(2);
    const b = new Variable(3);
    a.mul(b).add(a).add(b).backward();
    expect([a.grad, b.grad]).toEqual([4, 3]);
  });

  it("f = (x1 + x2)(x1 x2) at (2, 3) gives 21 and 16", () => {
    const x1 = new Variable(2);
    const x2 = new Variable(3);
    x1.add(x2).mul(x1.mul(x2)).backward();
    expect([x1.grad, x2.grad]).toEqual([21, 16]);
  });

  it("an intermediate feeding two nodes gets both contributions (78 and 52)", () => {
    const a = new Variable(2);
    const b = new Variable(3);
    const h = a.mul(b);
    h.add(1).mul(h.mul(2)).backward();
    expect([a.grad, b.grad]).toEqual([78, 52]);
  });

  it("W1: the lecture regression reaches the peers' weights (-3.1423, 5.2518)", () => {
    const rng = new Random(42);
    const xs = Array.from({ length: 101 }, (_, i) => 0.01 * i);
    const ys = xs.map((x) => 5 * x - 3 + (2 * rng.random() - 1));
    const w0 = new Variable(0);
    const w1 = new Variable(0);
    for (let epoch = 0; epoch < 1000; epoch++) {
      const loss = sum(xs.map((x, i) => {
        const d = w1.mul(x).add(w0).sub(ys[i]);
        return d.mul(d);
      })).mul(1 / xs.length);
      w0.zeroGrad();
      w1.zeroGrad();
      loss.backward();
      w0.data -= 0.1 * w0.grad;
      w1.data -= 0.1 * w1.grad;
    }
    expect(w0.data).toBeCloseTo(-3.1423, 4);
    expect(w1.data).toBeCloseTo(5.2518, 4);
  });
});

describe("backward", () => {
  it("accumulates into leaves across calls, and zeroGrad resets", () => {
    const a = new Variable(3);
    const y = a.mul(a).add(a.mul(2)); // dy/da = 2a + 2 = 8
    y.backward();
    y.backward();
    expect(a.grad).toBe(16);
    a.zeroGrad();
    y.backward();
    expect(a.grad).toBe(8);
    expect(y.grad).toBe(1);
  });

  it("handles a chain of 1,000,000 nodes without overflowing the stack", () => {
    const x = new Variable(1);
    let y = x;
    for (let i = 0; i < 1_000_000; i++) y = y.add(1e-6);
    y.backward();
    expect(x.grad).toBe(1);
    expect(y.data).toBeCloseTo(2, 6);
  });

  it("prints like the lesson's class", () => {
    const a = new Variable(2);
    a.mul(3).backward();
    expect(String(a)).toBe("Variable(data=2, grad=3)");
  });

  it("Random is mulberry32 (first draws for seed 42)", () => {
    const r = new Random(42);
    expect([r.random(), r.random()]).toEqual([0.6011037519201636, 0.44829055899754167]);
  });
});

describe("bad input gets an error naming the op and the values", () => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ["log of zero", () => new Variable(0).log(), /^log: log of a non-positive number: log\(0\)/],
    ["log of a negative", () => new Variable(-2).log(), /^log: .*log\(-2\)/],
    ["division by zero", () => new Variable(1).div(0), /^div: division by zero: 1 \/ 0/],
    ["division by a zero Variable", () => div(3, new Variable(0)), /^div: division by zero: 3 \/ 0/],
    ["NaN data", () => new Variable(NaN), /data must be a finite number, got NaN/],
    ["Infinity data", () => new Variable(Infinity), /got Infinity/],
    ["a NaN operand", () => new Variable(1).add(NaN), /^add: operands must be Variables or finite numbers, got NaN/],
    ["a string operand", () => new Variable(1).mul("2" as unknown as number), /^mul: .*got 2/],
    ["negative base, fractional exponent", () => new Variable(-8).pow(1 / 3), /^pow: a negative base with a fractional exponent is not real: \(-8\) \*\* 0\.333/],
    ["zero to a negative power", () => new Variable(0).pow(-1), /^pow: division by zero: 0 \*\* -1/],
    ["a non-finite exponent", () => new Variable(2).pow(NaN), /^pow: the exponent must be a finite number, got NaN/],
    ["exp overflow", () => new Variable(1000).exp(), /^exp: exp\(1000\) is Infinity/],
    ["an infinite derivative", () => new Variable(0).pow(0.5), /^pow: the derivative of pow at \(0\) is not finite/],
  ];
  for (const [name, f, message] of cases) {
    it(name, () => expect(f).toThrow(message));
  }
});
