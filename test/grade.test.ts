import { describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { execFile } from "node:child_process";
import { solutionParts, studentWork, type LessonNotebook } from "kernel-lib/runner";

// kernel-lib-grade on 30 synthetic submissions of lesson 01, made from its
// student version the way students would fill it in (or break it), through
// the real kernel; the whole gradebook is compared with the expected one.
const root = path.join(__dirname, "..");
const lessonFile = path.join(root, "notebooks", "01-automatic-differentiation.ipynb");
const studentFile = path.join(root, "student", "01-automatic-differentiation.ipynb");
const cli = path.join(root, "node_modules", ".bin", "kernel-lib-grade");

type Cell = LessonNotebook["cells"][number];
const text = (c: Cell) => (Array.isArray(c.source) ? c.source.join("") : c.source);
const read = (f: string) => JSON.parse(readFileSync(f, "utf8")) as LessonNotebook;

const lesson = read(lessonFile);
const student = read(studentFile);
/** Each exercise's right answer: its solution regions' lines, by cell id. */
const answers = new Map(lesson.cells.filter((c) => c.metadata?.tags?.includes("solution")).map((c) => [c.id!, solutionParts(text(c)).regions.map((r) => r.lines.join("\n"))]));

/** The student version with `work` (cell id -> one text per region) in place of its TODOs; every other exercise right unless `open`. */
function submission(work: Record<string, string[]> = {}, open = false): LessonNotebook {
  const nb = structuredClone(student);
  for (const cell of nb.cells) {
    const id = cell.id!;
    if (!answers.has(id)) continue;
    const fill = work[id] ?? (open ? null : answers.get(id)!);
    if (!fill) continue;
    let r = 0;
    // each region is a TODO comment and its throw
    cell.source = text(cell).replace(/^\s*\/\/ TODO: .*\n\s*throw new Error\("TODO: .*"\);$/gm, () => fill[r++]);
  }
  return nb;
}

const wrong: Array<[string, Record<string, string[]>]> = [
  ["wrong-01-mse", { "cell-02": ["  return (y - w[1] * x - w[0]) ** 3;"] }],
  ["wrong-02-gradMse", { "cell-04": ["  const residual = y - w[1] * x - w[0];\n  return [2 * residual, 2 * x * residual];"] }],
  ["wrong-03-call", { "cell-06": ["  return gradMse(w, y, x);"] }],
  ["wrong-04-autograd", { "autograd-01": ["  const loss = wt.dot(tensor([1, x])).rsub(y);\n  loss.backward();"] }],
  ["wrong-05-class", { "cell-14": ["    this.data = data;\n    this.grad = 1;\n    this._backward = () => {};\n    this._prev = new Set(children);"] }],
  ["wrong-06-add", { "cell-18": ["  const o = other instanceof Variable ? other : new Variable(other);\n  const out = new Variable(this.data + o.data, [this, o]);\n  out._backward = () => {\n    this.grad += out.grad;\n  };\n  return out;"] }],
  ["wrong-07-attach", { "attach-02": ["Variable.prototype.add = mulMethod;\nVariable.prototype.mul = mulMethod;"] }],
  ["wrong-08-sub", { "cell-22": ["  return this.mul(-1);", "  return this.add(other);"] }],
  ["wrong-09-zeroGrad", { "cell-24": ["  this.grad = this.grad;"] }],
  ["wrong-10-quick", { "cell-26": ["const c = a.mul(b).add(a).add(b);"] }],
  ["wrong-11-mse", { "cell-35": ["  let sumResid = new Variable(0);\n  for (let i = 0; i < y.length; i++) sumResid = sumResid.add(yPred[i].sub(y[i]));\n  return sumResid.mul(1 / y.length);"] }],
  ["wrong-12-loop", { "cell-39b": ["  const loss = mse(model.forward(x), y);\n  loss.backward();\n  optimizer.step();"] }],
];

const withCells = (nb: LessonNotebook, f: (cells: Cell[]) => Cell[]): LessonNotebook => ({ ...nb, cells: f(nb.cells) });

function submissions(): Record<string, string> {
  const right = submission();
  const s: Record<string, LessonNotebook | string> = {
    "all-right": right,
    "all-empty": submission({}, true),
    ...Object.fromEntries(wrong.map(([name, work]) => [name, submission(work)])),
    "loops-forever": submission({ "cell-22": ["  while (true) {}", answers.get("cell-22")![1]] }),
    "calls-process-exit": submission({ "cell-26": ["process.exit(0);"] }),
    "deleted-a-check": withCells(right, (cells) => cells.filter((c) => c.id !== "check-01" && c.id !== "check-05")),
    "cells-reordered": withCells(right, (cells) => [...cells].reverse()),
    "broken-json": JSON.stringify(right).slice(0, 5000),
    "empty-file": "",
    "no-cells": "{}",
    "not-a-notebook": "%PDF-1.4 this is a scan of my handwritten answers",
    // edited the code around an exercise (the signature's parameter names): graded as written, still right
    "edited-around": withCells(right, (cells) =>
      cells.map((c) => (c.id === "cell-02" ? { ...c, source: text(c).replace("function mse(w: number[], x: number, y: number): number {", "function mse(ws: number[], xv: number, yv: number): number {\n  const [w, x, y] = [ws, xv, yv];") } : c)),
    ),
    "missing-exercise-cell": withCells(right, (cells) => cells.filter((c) => c.id !== "cell-04")),
    // tried to raise a check's points and to make one always pass: check cells come from the lesson
    "tampered-checks": withCells(submission({}, true), (cells) =>
      cells.map((c) => (c.id === "check-00" ? { ...c, source: 'console.log("✓ mse(w, x, y) at w = (1, 2), x = 3, y = 4: correct (9)");' } : c.id === "check-05" ? { ...c, source: text(c).replace("points: 3", "points: 300") } : c)),
    ),
    "extra-cells": withCells(right, (cells) => [...cells.slice(0, 3), { cell_type: "code", id: "mine-1", metadata: {}, outputs: [], execution_count: null, source: 'console.log("scratch work");' }, ...cells.slice(3)]),
    "reindented": submission(Object.fromEntries([...answers].map(([id, regions]) => [id, regions.map((r) => r.replace(/^ +/gm, (m) => m + "    "))]))),
    // wrote the class into a new cell of their own and left the exercise open: that cell is not graded
    "answer-in-own-cell": withCells(submission({ "cell-02": answers.get("cell-02")! }, true), (cells) => [
      ...cells,
      { cell_type: "code", id: "mine-2", metadata: {}, outputs: [], execution_count: null, source: "// my gradMse\n" + answers.get("cell-04")![0] },
    ]),
    "first-four": submission(Object.fromEntries(["cell-14", "cell-18", "attach-02", "cell-22", "cell-24", "cell-26", "cell-35", "cell-39b"].map((id) => [id, answers.get(id)!.map(() => '  throw new Error("TODO: later");')]))),
    "last-eight": submission(Object.fromEntries(["cell-02", "cell-04", "cell-06", "autograd-01"].map((id) => [id, (answers.get(id) ?? []).map(() => '  throw new Error("TODO: later");')]))),
  };
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v, null, 1)]));
}

function run(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => execFile(cli, args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: stdout + stderr })));
}

describe("kernel-lib-grade", () => {
  it("takes only the work inside the solution regions, matched between the cell's fixed lines", () => {
    const source = "function f(x: number): number {\n  // BEGIN SOLUTION: twice x\n  return 2 * x;\n  // END SOLUTION\n}\nf(2)";
    expect(studentWork(source, "function f(x: number): number {\n  const y = x + x;\n  return y;\n}\nf(2)")).toBe("function f(x: number): number {\n  const y = x + x;\n  return y;\n}\nf(2)");
    // edits outside the regions are not taken: the fixed lines come from the source
    expect(studentWork(source, "function f(x: number): number {\n  return 3 * x;\n}\nf(2) // mine")).toBeNull();
  });

  it("grades 30 submissions of lesson 01, right, empty, wrong one exercise at a time, hanging, exiting, tampered or broken, into the expected gradebook", async () => {
    expect(existsSync(studentFile), "npm run student writes the student version").toBe(true);
    mkdirSync(path.join(root, "test-output"), { recursive: true });
    const dir = mkdtempSync(path.join(root, "test-output", "grade-"));
    const subs = submissions();
    expect(Object.keys(subs).length).toBe(30);
    mkdirSync(path.join(dir, "submissions"));
    for (const [name, content] of Object.entries(subs)) writeFileSync(path.join(dir, "submissions", `${name}.ipynb`), content);
    const r = await run(["--source", lessonFile, "--jobs", "2", "--timeout", "20", "--out", path.join(dir, "grades.csv"), "--feedback", path.join(dir, "feedback"), path.join(dir, "submissions")]);
    expect(r.code, r.out).toBe(0);
    const csv = readFileSync(path.join(dir, "grades.csv"), "utf8").trim().split("\n");
    const header = csv[0];
    expect(header).toBe(
      'submission,"mse(w, x, y) at w = (1, 2), x = 3, y = 4","gradMse at w = (0, 1), x = 2, y = 5","the gradient at w = (1, 2), x = 3, y = 4",the gradient from backward() at our point,"a new Variable: its value, a zero gradient, its inputs","the sum and the gradients of a + b at a = 2, b = 3","the gradients of a * b + a through the methods, at a = 2, b = 3","a - b and its gradients at a = 2, b = 5, and -a",zeroGrad resets the gradient,"the quick check: dc/da and dc/db at a = 2, b = 3","mse of predictions (1, 2) against targets (1, 4)",mse of three predictions,training recovers w0 close to -3 and w1 close to 5,total,max',
    );
    // checks, in order: mse, gradMse, call, autograd, class (2), add (2), attach, sub, zeroGrad, quick, mse, hidden mse, loop (3)
    const rows = Object.fromEntries(csv.slice(1).map((l) => [l.split(",")[0], l.split(",").slice(1).join(",")]));
    const expected: Record<string, string> = {
      "all-right": "1,1,1,1,2,2,1,1,1,1,1,1,3,17,17",
      "all-empty": "0,0,0,0,0,0,0,0,0,0,0,0,0,0,17",
      "wrong-01-mse": "0,1,1,1,2,2,1,1,1,1,1,1,3,16,17",
      "wrong-02-gradMse": "1,0,0,1,2,2,1,1,1,1,1,1,3,15,17", // the call at our point uses gradMse
      "wrong-03-call": "1,1,0,1,2,2,1,1,1,1,1,1,3,16,17",
      "wrong-04-autograd": "1,1,1,0,2,2,1,1,1,1,1,1,3,16,17",
      // a gradient that starts at 1: every backward pass after the class is off, but values and zeroGrad are right
      "wrong-05-class": "1,1,1,1,0,0,0,0,1,0,1,1,0,7,17",
      "wrong-06-add": "1,1,1,1,2,0,0,0,1,0,1,1,0,9,17", // everything that adds after it
      "wrong-07-attach": "1,1,1,1,2,2,0,0,1,0,0,0,0,9,17",
      "wrong-08-sub": "1,1,1,1,2,2,1,0,1,1,0,0,0,11,17", // the mse and the loop subtract
      "wrong-09-zeroGrad": "1,1,1,1,2,2,1,1,0,1,1,1,0,13,17",
      "wrong-10-quick": "1,1,1,1,2,2,1,1,1,0,1,1,3,16,17",
      "wrong-11-mse": "1,1,1,1,2,2,1,1,1,1,0,0,0,12,17",
      "wrong-12-loop": "1,1,1,1,2,2,1,1,1,1,1,1,0,14,17",
      // neg never returns: stopped (and killed) in sub's check, nothing after it ran
      "loops-forever": "1,1,1,1,2,2,1,0,0,0,0,0,0,9,17",
      "calls-process-exit": "1,1,1,1,2,2,1,1,1,0,0,0,0,11,17",
      "deleted-a-check": "1,1,1,1,2,2,1,1,1,1,1,1,3,17,17",
      "cells-reordered": "1,1,1,1,2,2,1,1,1,1,1,1,3,17,17",
      "broken-json": "0,0,0,0,0,0,0,0,0,0,0,0,0,0,17",
      "empty-file": "0,0,0,0,0,0,0,0,0,0,0,0,0,0,17",
      "no-cells": "0,0,0,0,0,0,0,0,0,0,0,0,0,0,17",
      "not-a-notebook": "0,0,0,0,0,0,0,0,0,0,0,0,0,0,17",
      "edited-around": "1,1,1,1,2,2,1,1,1,1,1,1,3,17,17",
      "missing-exercise-cell": "1,0,0,1,2,2,1,1,1,1,1,1,3,15,17", // gradMse open, and the call that uses it
      "tampered-checks": "0,0,0,0,0,0,0,0,0,0,0,0,0,0,17",
      "extra-cells": "1,1,1,1,2,2,1,1,1,1,1,1,3,17,17",
      reindented: "1,1,1,1,2,2,1,1,1,1,1,1,3,17,17",
      "answer-in-own-cell": "1,0,0,0,0,0,0,0,0,0,0,0,0,1,17",
      "first-four": "1,1,1,1,0,0,0,0,0,0,0,0,0,4,17",
      "last-eight": "0,0,0,0,2,2,1,1,1,1,1,1,3,13,17",
    };
    expect(rows).toEqual(expected);

    // the JSON gradebook and each student's feedback say what happened
    const book = JSON.parse(readFileSync(path.join(dir, "grades.json"), "utf8"));
    const problems = (name: string) => book.submissions.find((s: { name: string }) => s.name === name).problems.join("\n");
    expect(problems("loops-forever")).toContain("cell check-sub did not finish within 20 s and was stopped; the checks after it got no points");
    expect(problems("calls-process-exit")).toMatch(/the kernel stopped at cell cell-26/);
    expect(problems("broken-json")).toContain("the file could not be read as a notebook");
    expect(problems("edited-around")).toContain("the code around the exercise in cell cell-02 was changed, so that cell was graded as written");
    expect(problems("missing-exercise-cell")).toContain("the exercise cell cell-04 is missing from the submission");
    expect(problems("all-right")).toBe("");
    const html = readFileSync(path.join(dir, "feedback", "wrong-01-mse.html"), "utf8");
    expect(html).toContain("wrong-01-mse: 16 of 17 points");
    expect(html).toContain("✗ mse(w, x, y) at w = (1, 2), x = 3, y = 4: expected 9, got -27.");
    expect(html).toContain("Hint: the prediction is w[0] + w[1] * x = 7");
    const fb = read(path.join(dir, "feedback", "wrong-01-mse.ipynb"));
    expect(text(fb.cells[0])).toContain("# Feedback: 16 of 17 points");
    // the student version does not contain the hidden check; the grader ran it
    expect(student.cells.some((c) => c.id === "hidden-mse")).toBe(false);
    expect(book.checks.find((c: { cell: string }) => c.cell === "hidden-mse").name).toBe("mse of three predictions");
  }, 900_000);
});
