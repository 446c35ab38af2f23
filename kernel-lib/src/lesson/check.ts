import { inspect } from "node:util";
import { display } from "../display";

/**
 * Check cells for student notebooks: compare what the student's code gives
 * with the expected answer and say, in plain words, whether it is right. A
 * wrong answer throws a `CheckFailure`, so "Run all" stops at the first
 * exercise that still needs work and CI sees the cell fail.
 */

export interface CheckOptions {
  /** Numbers match when |actual - expected| <= tol·(1 + |expected|). Default 1e-6. */
  tol?: number;
  /** Shown when the answer is wrong: where to look, not the answer. */
  hint?: string;
  /** What the check is worth when graded (kernel-lib-grade); default 1. */
  points?: number;
}

/** The mime type of a check's result, sent only while kernel-lib-grade runs the notebook. */
export const CHECK_RESULT_MIME = "application/vnd.kernel-lib.check+json";

export interface CheckResultData {
  name: string;
  passed: boolean;
  points: number;
  message: string;
}

/** Under kernel-lib-grade (KERNEL_LIB_GRADING=1), each check also sends its result as data. */
function graded(name: string, passed: boolean, points = 1, message: string): void {
  if (process.env.KERNEL_LIB_GRADING !== "1") return;
  if (!(points >= 0 && Number.isFinite(points))) throw new RangeError(`check "${name}": points must be a number >= 0, got ${points}`);
  const data: CheckResultData = { name, passed, points, message };
  display({ [CHECK_RESULT_MIME]: data, "text/plain": `${passed ? "passed" : "failed"}: ${name} (${passed ? points : 0} of ${points} points)` });
}

/** Report a failure to the grader, then throw it. */
function fail(name: string, points: number | undefined, message: string): never {
  graded(name, false, points, message);
  throw new CheckFailure(message);
}

/**
 * The error a failed check throws. Its printout is the message alone: a stack
 * trace into kernel-lib would only distract from the student's own cell.
 */
export class CheckFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckFailure";
  }
  [inspect.custom](): string {
    return this.message;
  }
}

/** The message stub cells throw: `throw new Error("TODO: ...")`. */
const isTodo = (e: unknown): e is Error => e instanceof Error && /^TODO\b/.test(e.message);

function fmt(x: unknown): string {
  if (typeof x === "number") return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(6)));
  if (typeof x === "string") return JSON.stringify(x);
  if (Array.isArray(x)) return `[${x.map(fmt).join(", ")}]`;
  return inspect(x, { depth: 2, breakLength: Infinity });
}

function withHint(message: string, hint: string | undefined): string {
  return hint ? `${message}\n  Hint: ${hint}` : message;
}

/** Run the student's code (a thunk, or a value already computed). */
function evaluate(what: string, actual: unknown, hint: string | undefined): unknown {
  if (typeof actual !== "function") return actual;
  try {
    return (actual as () => unknown)();
  } catch (e) {
    if (e instanceof CheckFailure) throw e;
    if (isTodo(e)) {
      throw new CheckFailure(
        `✗ ${what}: not done yet. The code it runs still has an open ${e.message.split("\n")[0]}\n` +
          `  Fill in that TODO above, run its cell, then run this check again.`,
      );
    }
    const err = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    throw new CheckFailure(withHint(`✗ ${what}: your code threw an error instead of giving an answer:\n  ${err}`, hint));
  }
}

/** Tensors (and anything else with a synchronous toArray) compare as nested arrays. */
function plain(x: unknown): unknown {
  if (x !== null && typeof x === "object" && typeof (x as { toArray?: unknown }).toArray === "function") {
    const a = (x as { toArray(): unknown }).toArray();
    if (a instanceof Promise) throw new CheckFailure("✗ this value lives on the GPU: check `await t.cpu()` instead of `t`.");
    return a;
  }
  return x;
}

/** Why `actual` differs from `expected`, or null when they match. */
function difference(actual: unknown, expected: unknown, tol: number, at = ""): string | null {
  const where = at ? ` at ${at}` : "";
  if (typeof expected === "number") {
    if (actual === undefined) return `got undefined${where}: did your code forget to \`return\` its result?`;
    if (typeof actual !== "number") return `expected a number${where}, got ${fmt(actual)}`;
    if (Number.isNaN(actual)) return `got NaN${where}: somewhere a 0/0, a log of a negative number or an undefined value crept in`;
    if (!(Math.abs(actual - expected) <= tol * (1 + Math.abs(expected)))) {
      // Enough digits that the two numbers print differently.
      let p = 6;
      while (p < 17 && actual.toPrecision(p) === expected.toPrecision(p)) p++;
      const show = (x: number) => (Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(p))));
      return `expected ${show(expected)}${where}, got ${show(actual)}`;
    }
    return null;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `expected an array of length ${expected.length}${where}, got ${fmt(actual)}`;
    if (actual.length !== expected.length) return `expected ${expected.length} entries${where}, got ${actual.length}: ${fmt(actual)}`;
    for (let i = 0; i < expected.length; i++) {
      const d = difference(actual[i], expected[i], tol, `${at}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (actual === undefined && expected !== undefined) return `got undefined${where}: did your code forget to \`return\` its result?`;
  return Object.is(actual, expected) ? null : `expected ${fmt(expected)}${where}, got ${fmt(actual)}`;
}

/**
 * Check a value against the expected answer. `actual` may be a function, so
 * that an open TODO or an exception in the student's code becomes a clear
 * message. Numbers (and arrays and CPU tensors of them) compare with a
 * tolerance; anything else must be identical.
 *
 *     check("dfSymbolic(1.5)", () => dfSymbolic(1.5), -1.2668, { hint: "chain rule: cos(x²) times the derivative of x²" });
 */
export function check(what: string, actual: unknown, expected: unknown, options: CheckOptions = {}): void {
  const tol = options.tol ?? 1e-6;
  let value: unknown;
  try {
    value = plain(evaluate(what, actual, options.hint));
  } catch (e) {
    if (e instanceof CheckFailure) fail(what, options.points, e.message);
    throw e;
  }
  const d = difference(value, plain(expected), tol);
  if (d) fail(what, options.points, withHint(`✗ ${what}: ${d}.`, options.hint));
  graded(what, true, options.points, `✓ ${what}: correct (${fmt(value)})`);
  console.log(`✓ ${what}: correct (${fmt(value)})`);
}

/**
 * Check a property that is not a single value, e.g. "the loss went down".
 * `test` returns true when right, or false or a sentence saying what is wrong.
 */
export function checkThat(what: string, test: () => boolean | string, options: Pick<CheckOptions, "hint" | "points"> = {}): void {
  let r: unknown;
  try {
    r = evaluate(what, test, options.hint);
  } catch (e) {
    if (e instanceof CheckFailure) fail(what, options.points, e.message);
    throw e;
  }
  if (r === true) {
    graded(what, true, options.points, `✓ ${what}`);
    console.log(`✓ ${what}`);
    return;
  }
  const why = typeof r === "string" && r ? `: ${r}` : "";
  fail(what, options.points, withHint(`✗ ${what}: not yet${why}.`, options.hint));
}
