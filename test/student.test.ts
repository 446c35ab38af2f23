import { describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { runNotebook, restoreSolutions, stubSource, studentVersion, writeStudentVersions, type LessonNotebook, type NotebookResult } from "kernel-lib/runner";

// Each lesson is written once; the student version replaces its solutions with
// TODO stubs. A student running it must meet only friendly messages: an open
// TODO, or a check that says what is wrong. The generated files live inside the
// repository so that tslab finds kernel-lib in node_modules.
const root = path.join(__dirname, "..");
const lessonsDir = path.join(root, "notebooks");
const outDir = path.join(root, "test-output", "student");

interface Cell {
  cell_type: string;
  id: string;
  source: string | string[];
  metadata: { tags?: string[] };
}
const text = (c: Cell) => (Array.isArray(c.source) ? c.source.join("") : c.source);
const read = (p: string) => JSON.parse(readFileSync(p, "utf8")) as LessonNotebook & { cells: Cell[] };
const isCheck = (c: Cell) => c.cell_type === "code" && /\bcheck(That)?\(/.test(text(c));

describe("student versions", () => {
  rmSync(outDir, { recursive: true, force: true }); // the test's own folder: start clean
  const { written } = writeStudentVersions(lessonsDir, outDir);
  const names = written.map((f) => path.basename(f));

  it("every lesson with exercises (01, 02, 03, 06) gets one, and each has check cells", () => {
    for (const n of ["01-", "02-", "03-", "06-"]) expect(names.some((f) => f.startsWith(n)), `no student version of lesson ${n}`).toBe(true);
    for (const f of written) expect(read(f).cells.filter(isCheck).length, f).toBeGreaterThan(0);
  });

  it("lesson 01 leaves open the lecture's 12 exercises, in its order, each followed by a check cell", () => {
    const lesson = read(path.join(lessonsDir, "01-automatic-differentiation.ipynb"));
    const code = lesson.cells.filter((c) => c.cell_type === "code");
    const exercises = code.filter((c) => c.metadata.tags?.includes("solution"));
    // the lecture's TODOs: the one-point mse, its gradient by hand, the call at (1, 2), autograd on it
    // (requiresGrad_), the Variable class, add, attaching add and mul, neg and sub, zeroGrad, the quick
    // check, the data set's mse, the training loop (mul is given, as in the lecture)
    expect(exercises.map((c) => c.id)).toEqual(["cell-02", "cell-04", "cell-06", "autograd-01", "cell-14", "cell-18", "attach-02", "cell-22", "cell-24", "cell-26", "cell-35", "cell-39b"]);
    for (const c of exercises) expect(isCheck(code[code.indexOf(c) + 1]), `${c.id} is not followed by a check cell`).toBe(true);
    expect(text(code.find((c) => c.id === "cell-20")!)).toContain("function mulMethod");
  });

  it("are valid nbformat 4 (Jupyter's own validator)", () => {
    const script = "import sys, nbformat\nfor p in sys.argv[1:]: nbformat.validate(nbformat.read(p, 4))\nprint('ok')";
    expect(execFileSync("/usr/bin/python3", ["-c", script, ...written], { encoding: "utf8" }).trim()).toBe("ok");
  });

  it("contain no line of any solution, and give the lesson back when the solutions are put back", () => {
    for (const f of written) {
      const lesson = read(path.join(lessonsDir, path.basename(f)));
      const student = read(f);
      for (const cell of lesson.cells.filter((c) => c.metadata.tags?.includes("solution"))) {
        const stub = text(student.cells.find((c) => c.id === cell.id)!);
        const inside = text(cell).split(/\/\/ BEGIN SOLUTION.*\n/).slice(1).map((s) => s.split(/\n\s*\/\/ END SOLUTION/)[0]);
        expect(inside.length, `${f} ${cell.id}`).toBeGreaterThan(0);
        for (const line of inside.join("\n").split("\n").map((l) => l.trim()).filter((l) => l.length > 12)) {
          expect(stub, `${path.basename(f)} ${cell.id} leaks its solution`).not.toContain(line);
        }
        expect(stub).toMatch(/\/\/ TODO: .+\n\s*throw new Error\("TODO: /);
      }
      // A student version stores no output (the lesson's are committed, and would give answers away) ...
      for (const c of student.cells) if (c.cell_type === "code") expect([c.outputs, c.execution_count], `${path.basename(f)} ${c.id}`).toEqual([[], null]);
      // ... and is otherwise the lesson, once its solutions are put back.
      const clean = (nb: LessonNotebook) => ({ ...nb, cells: nb.cells.map((c) => (c.cell_type === "code" ? { ...c, outputs: [], execution_count: null } : c)) });
      expect(clean(restoreSolutions(student, lesson))).toEqual(clean(lesson));
    }
  });

  describe("run through the tslab kernel with the TODOs open", () => {
    for (const file of written) {
      const name = path.basename(file);
      it(name, async () => {
        const r: NotebookResult = await runNotebook(file, { keepGoing: true, cellTimeoutMs: 120_000, log: () => {} });
        const student = read(file);
        const code = student.cells.filter((c) => c.cell_type === "code");
        const failed = new Map(r.failures.map((f) => [f.codeCell, f]));
        // Every check cell fails, in plain words.
        code.forEach((c, i) => {
          if (!isCheck(c)) return;
          const f = failed.get(i + 1);
          expect(f, `${name}: check cell ${i + 1} passed with its TODO open:\n${text(c)}`).toBeDefined();
          expect(f!.message.trim(), `${name}: check cell ${i + 1}`).toMatch(/^✗ /);
        });
        // Anything else fails only at an open TODO: a cell that threw keeps the
        // declarations it made, so no later cell fails for want of a name, except
        // a name whose own declaration could not run because of an open TODO (a
        // Variable made before the class's constructor is written), directly or
        // through cells that waited in turn: the kernel then names the cell to fix.
        const todoCells = new Set(r.failures.filter((f) => /^Error: TODO: /.test(f.message)).map((f) => f.codeCell));
        for (const f of r.failures) {
          const waiting = /ReferenceError: (\w+) is not defined: In\[(\d+)\] failed before its declaration of \1 ran\. Fix that cell and run it again\./.exec(f.message);
          if (waiting) {
            expect(todoCells.has(Number(waiting[2])), `${name}: cell ${f.cell} waits on In[${waiting[2]}], which has no open TODO:\n${f.message}`).toBe(true);
            todoCells.add(f.codeCell);
            // a check cell still fails in plain words
            if (!/^ReferenceError/.test(f.message)) expect(f.message).toMatch(/^\s*✗ /);
            continue;
          }
          expect(f.message, `${name}: cell ${f.cell} fails with something other than a TODO or a check`).toMatch(/^Error: TODO: |^\s*✗ /);
          expect(f.message, `${name}: cell ${f.cell}`).not.toMatch(/Cannot find name|is not defined/);
        }
        // What "Run all" stops at: the first failure is a TODO or a check, never a cascade.
        expect(r.failures[0].message).toMatch(/Error: TODO: |^\s*✗ /);
      }, 300_000);
    }
  });

  it("a rebuild never overwrites a student's work, and leaves other files alone", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "student-"));
    const first = writeStudentVersions(lessonsDir, dir);
    expect(first.kept).toEqual([]);
    const [edited, ran] = first.written;
    // A student fills in a TODO in one file, and only runs the cells of another.
    const work = read(edited);
    const todoCell = work.cells.find((c) => text(c).includes("// TODO: "))!;
    todoCell.source = "my answer";
    writeFileSync(edited, JSON.stringify(work));
    const executed = read(ran);
    for (const c of executed.cells) if (c.cell_type === "code") Object.assign(c, { outputs: [{ output_type: "stream", name: "stdout", text: "ran\n" }], execution_count: 1 });
    writeFileSync(ran, JSON.stringify(executed));
    writeFileSync(path.join(dir, "notes.ipynb"), "{}");
    writeFileSync(path.join(dir, "notes.txt"), "mine");
    const second = writeStudentVersions(lessonsDir, dir);
    expect(second.kept).toEqual([edited]);
    expect(second.written).toContain(ran);
    expect(text(read(edited).cells.find((c) => c.id === todoCell.id)!)).toBe("my answer");
    expect(readFileSync(path.join(dir, "notes.txt"), "utf8")).toBe("mine");
    expect(existsSync(path.join(dir, "notes.ipynb"))).toBe(true);
    expect(() => writeStudentVersions(lessonsDir, lessonsDir)).toThrow("cannot go into the lessons' own folder");
  });

  it("kernel-lib-student writes the versions, then keeps an edited one and says so", () => {
    const cli = path.join(root, "kernel-lib", "bin", "kernel-lib-student.js");
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
    const usage = run();
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain("Usage: kernel-lib-student <lessons folder> <output folder>");
    expect(run(path.join(root, "no-such-folder"), "x").stderr).toContain("no such folder");
    const dir = mkdtempSync(path.join(tmpdir(), "student-cli-"));
    const first = run(lessonsDir, dir);
    expect(first.status).toBe(0);
    expect(first.stdout).toContain("03-backprop-from-scratch.ipynb");
    const file = path.join(dir, "03-backprop-from-scratch.ipynb");
    writeFileSync(file, readFileSync(file, "utf8").replace("// TODO: ", "// working on it: "));
    const second = run(lessonsDir, dir);
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/kept .*03-backprop-from-scratch\.ipynb: it has been edited/);
  });

  it("the generator refuses lessons whose solutions would leak or not be replaced", () => {
    const nb = (source: string, tags: string[] = []): LessonNotebook => ({ nbformat: 4, metadata: {}, cells: [{ cell_type: "code", id: "c1", metadata: { tags }, source, outputs: [] }] });
    expect(() => studentVersion(nb("// BEGIN SOLUTION\nx\n// END SOLUTION"), "l.ipynb")).toThrow("l.ipynb, cell 1 (c1): has solution markers but no `solution` tag");
    expect(() => studentVersion(nb("x = 1", ["solution"]), "l.ipynb")).toThrow("is tagged solution but has no // BEGIN SOLUTION");
    expect(() => stubSource("// BEGIN SOLUTION\nx", "w")).toThrow("w: the solution opened on line 1 is never closed (// END SOLUTION)");
    expect(() => stubSource("x\n// END SOLUTION", "w")).toThrow("w: line 2 closes a solution that was never opened");
    expect(stubSource("function f(): number {\n  // BEGIN SOLUTION: return two\n  return 2;\n  // END SOLUTION\n}", "w")).toBe(
      'function f(): number {\n  // TODO: return two\n  throw new Error("TODO: return two");\n}',
    );
  });
});
