#!/usr/bin/env node
// `npm run student`: write the student version of every lesson in notebooks/
// into student/. Each lesson is written once, with its solutions; in cells
// tagged `solution`, the lines between `// BEGIN SOLUTION` and
// `// END SOLUTION` become a `// TODO` stub that throws until the student
// fills it in. The text after `BEGIN SOLUTION:` becomes the TODO's wording.
// Never edit student/ by hand: it is rewritten on every build.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const BEGIN = /^(\s*)\/\/ BEGIN SOLUTION(?::\s*(.*?))?\s*$/;
const END = /^\s*\/\/ END SOLUTION\s*$/;

const text = (cell) => (Array.isArray(cell.source) ? cell.source.join("") : cell.source);

/** The stub for one solution region: a TODO comment and a throw that says what to do. */
function stub(indent, task) {
  const what = task || "your code here";
  return [`${indent}// TODO: ${what}`, `${indent}throw new Error(${JSON.stringify(`TODO: ${what}`)});`];
}

/** Replace each solution region of one cell's source; throws on unbalanced markers. */
export function stubSource(source, where) {
  const out = [];
  let open = null;
  for (const [i, line] of source.split("\n").entries()) {
    const b = BEGIN.exec(line);
    if (b) {
      if (open) throw new Error(`${where}: line ${i + 1} opens a solution inside another one (line ${open.line})`);
      open = { line: i + 1, indent: b[1], task: b[2] };
      out.push(...stub(b[1], b[2]));
    } else if (END.test(line)) {
      if (!open) throw new Error(`${where}: line ${i + 1} closes a solution that was never opened`);
      open = null;
    } else if (!open) out.push(line);
  }
  if (open) throw new Error(`${where}: the solution opened on line ${open.line} is never closed (// END SOLUTION)`);
  return out.join("\n");
}

/** The student version of a lesson notebook (a new object; the lesson is untouched). */
export function studentVersion(nb, name = "notebook") {
  const cells = nb.cells.map((cell, i) => {
    const where = `${name}, cell ${i + 1}${cell.id ? ` (${cell.id})` : ""}`;
    const tags = cell.metadata?.tags ?? [];
    const src = text(cell);
    const marked = src.split("\n").some((l) => BEGIN.test(l) || END.test(l));
    if (!tags.includes("solution")) {
      if (marked && cell.cell_type === "code") throw new Error(`${where}: has solution markers but no \`solution\` tag, so its solution would leak into the student version`);
      return structuredClone(cell);
    }
    if (cell.cell_type !== "code") throw new Error(`${where}: only code cells can be tagged solution`);
    if (!marked) throw new Error(`${where}: is tagged solution but has no // BEGIN SOLUTION ... // END SOLUTION lines to replace`);
    return { ...structuredClone(cell), source: stubSource(src, where), outputs: [], execution_count: null };
  });
  const todo = cells.filter((c) => (c.metadata?.tags ?? []).includes("solution")).length;
  const banner = {
    cell_type: "markdown",
    id: "student-version",
    metadata: {},
    source:
      `> **Student version** of \`notebooks/${name}\`, with ${todo} exercise cell${todo === 1 ? "" : "s"} to fill in: look for \`// TODO\`. ` +
      "Run each *check* cell after the cell it checks; it tells you whether your code is right and gives a hint when it is not.",
  };
  return { ...structuredClone(nb), cells: [banner, ...cells] };
}

/** Put the lesson's solutions back into a student version: gives the lesson again. */
export function restoreSolutions(student, lesson) {
  const byId = new Map(lesson.cells.map((c) => [c.id, c]));
  return {
    ...student,
    cells: student.cells.filter((c) => c.id !== "student-version").map((c) => ((c.metadata?.tags ?? []).includes("solution") ? byId.get(c.id) : c)),
  };
}

/** Write student/<lesson> for every lesson in `fromDir`; returns the files written. */
export function writeStudentVersions(fromDir, toDir) {
  rmSync(toDir, { recursive: true, force: true });
  mkdirSync(toDir, { recursive: true });
  const written = [];
  for (const name of readdirSync(fromDir).filter((f) => f.endsWith(".ipynb")).sort()) {
    const nb = JSON.parse(readFileSync(path.join(fromDir, name), "utf8"));
    if (!nb.cells.some((c) => (c.metadata?.tags ?? []).includes("solution"))) continue;
    const file = path.join(toDir, name);
    writeFileSync(file, JSON.stringify(studentVersion(nb, name), null, 1) + "\n");
    written.push(file);
  }
  return written;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  try {
    const files = writeStudentVersions(path.join(root, "notebooks"), path.join(root, "student"));
    console.log(`student versions: ${files.map((f) => path.relative(root, f)).join(", ") || "none (no cell is tagged solution)"}`);
  } catch (e) {
    console.error(`npm run student: ${e.message}`);
    process.exit(1);
  }
}
