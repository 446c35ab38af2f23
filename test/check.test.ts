import { describe, expect, it, vi } from "vitest";
import { inspect } from "node:util";
import { check, checkThat, CheckFailure, tensor } from "kernel-lib";

function failure(f: () => void): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CheckFailure);
    // What the kernel prints for it: the message alone, no stack into kernel-lib.
    expect(inspect(e)).toBe((e as Error).message);
    return (e as Error).message;
  }
  throw new Error("the check passed");
}

describe("lesson checks", () => {
  it("a right answer prints a tick and does not throw", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    check("dfSymbolic(1.5)", () => Math.cos(2.25) * 3, -1.8845209, { tol: 1e-6 });
    check("gradient", [21, 16.0000001], [21, 16]);
    check("x.grad", tensor([0, 4, 8, 12]), [0, 4, 8, 12]);
    check("a tensor against a tensor", tensor([[1, 2]]), tensor([[1, 2]]));
    check("label", "relu", "relu");
    checkThat("the loss went down", () => true);
    expect(log.mock.calls.map((c) => c[0])).toEqual([
      "✓ dfSymbolic(1.5): correct (-1.88452)",
      "✓ gradient: correct ([21, 16])",
      "✓ x.grad: correct ([0, 4, 8, 12])",
      "✓ a tensor against a tensor: correct ([[1, 2]])",
      '✓ label: correct ("relu")',
      "✓ the loss went down",
    ]);
    log.mockRestore();
  });

  it("an open TODO says so and says what to do", () => {
    const m = failure(() =>
      check("tanh(0.5)", () => {
        throw new Error("TODO: compute tanh and its local gradient");
      }, 0.4621),
    );
    expect(m).toBe(
      "✗ tanh(0.5): not done yet. The code it runs still has an open TODO: compute tanh and its local gradient\n" +
        "  Fill in that TODO above, run its cell, then run this check again.",
    );
  });

  it("a wrong value gives expected, got and the hint", () => {
    expect(failure(() => check("dL/dw", () => 4, -4, { hint: "mind the sign of e = wx - y" }))).toBe("✗ dL/dw: expected -4, got 4.\n  Hint: mind the sign of e = wx - y");
    expect(failure(() => check("grads", [21, 15], [21, 16]))).toBe("✗ grads: expected 16 at [1], got 15.");
    expect(failure(() => check("grads", [21], [21, 16]))).toBe("✗ grads: expected 2 entries, got 1: [21].");
    expect(failure(() => check("x", () => NaN, 1))).toContain("got NaN: somewhere a 0/0");
    expect(failure(() => check("x", () => undefined, 1))).toContain("got undefined: did your code forget to `return` its result?");
    expect(failure(() => check("x", () => "1", 1))).toBe('✗ x: expected a number, got "1".');
    expect(failure(() => check("tol", 1.001, 1))).toBe("✗ tol: expected 1, got 1.001.");
    expect(failure(() => check("close", -1.8845079, -1.8845237))).toBe("✗ close: expected -1.88452, got -1.88451.");
    expect(failure(() => check("closer", -1.8845201, -1.8845209, { tol: 1e-9 }))).toBe("✗ closer: expected -1.884521, got -1.88452.");
  });

  it("an exception in the student's code is reported with the hint, not as a crash", () => {
    const m = failure(() =>
      check("softmax", () => {
        throw new TypeError("Cannot read properties of undefined (reading 'data')");
      }, [0.5, 0.5], { hint: "subtract the max first" }),
    );
    expect(m).toBe("✗ softmax: your code threw an error instead of giving an answer:\n  TypeError: Cannot read properties of undefined (reading 'data')\n  Hint: subtract the max first");
  });

  it("checkThat reports the reason the test gives", () => {
    expect(failure(() => checkThat("XOR accuracy is 100%", () => "3 of 4 right", { hint: "train longer" }))).toBe("✗ XOR accuracy is 100%: not yet: 3 of 4 right.\n  Hint: train longer");
    expect(failure(() => checkThat("loss went down", () => false))).toBe("✗ loss went down: not yet.");
  });
});
