import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { sourceText, type Cell } from "./cells";

/**
 * Student versions of lessons. A lesson is written once, with its solutions:
 * in cells tagged `solution`, the lines between `// BEGIN SOLUTION: <task>`
 * and `// END SOLUTION` are the answer. The student version replaces each such
 * region with a `// TODO: <task>` comment and a throw saying the same, so it
 * still type-checks and fails only where work is left.
 */

export interface LessonNotebook {
  nbformat: number;
  metadata: Record<string, unknown>;
  cells: Cell[];
}

const BEGIN = /^(\s*)\/\/ BEGIN SOLUTION(?::\s*(.*?))?\s*$/;
const END = /^\s*\/\/ END SOLUTION\s*$/;
const BANNER_ID = "student-version";

const STAMP = "kernel_lib_student";

const tagged = (cell: Cell): boolean => (cell.metadata?.tags ?? []).includes("solution");
/** Checks kept for grading: left out of the student version, run by kernel-lib-grade. */
export const hiddenCheck = (cell: Cell): boolean => (cell.metadata?.tags ?? []).includes("hidden-check");

/**
 * A solution cell's source cut at its solution regions: the fixed parts
 * (fixed[0] before the first region ... fixed[n] after the last, as lines) and
 * each region's lines without its markers.
 */
export function solutionParts(source: string): { fixed: string[][]; regions: string[][] } {
  const fixed: string[][] = [[]];
  const regions: string[][] = [];
  let inside = false;
  for (const line of source.split("\n")) {
    if (!inside && BEGIN.test(line)) {
      inside = true;
      regions.push([]);
    } else if (inside && END.test(line)) {
      inside = false;
      fixed.push([]);
    } else (inside ? regions[regions.length - 1] : fixed[fixed.length - 1]).push(line);
  }
  return { fixed, regions };
}

/** Replace each solution region of one cell's source; `where` names the cell in errors. */
export function stubSource(source: string, where: string): string {
  const out: string[] = [];
  let open: { line: number } | null = null;
  for (const [i, line] of source.split("\n").entries()) {
    const b = BEGIN.exec(line);
    if (b) {
      if (open) throw new Error(`${where}: line ${i + 1} opens a solution inside another one (line ${open.line})`);
      open = { line: i + 1 };
      const task = b[2] || "your code here";
      out.push(`${b[1]}// TODO: ${task}`, `${b[1]}throw new Error(${JSON.stringify(`TODO: ${task}`)});`);
    } else if (END.test(line)) {
      if (!open) throw new Error(`${where}: line ${i + 1} closes a solution that was never opened`);
      open = null;
    } else if (!open) out.push(line);
  }
  if (open) throw new Error(`${where}: the solution opened on line ${open.line} is never closed (// END SOLUTION)`);
  return out.join("\n");
}

/** The student version of a lesson (a new object; the lesson is untouched). `name` is its file name. */
export function studentVersion(nb: LessonNotebook, name = "notebook"): LessonNotebook {
  const cells = nb.cells.filter((cell) => !hiddenCheck(cell)).map((cell, i): Cell => {
    const where = `${name}, cell ${i + 1}${cell.id ? ` (${cell.id})` : ""}`;
    const src = sourceText(cell);
    const marked = src.split("\n").some((l) => BEGIN.test(l) || END.test(l));
    if (!tagged(cell)) {
      if (marked && cell.cell_type === "code") throw new Error(`${where}: has solution markers but no \`solution\` tag, so its solution would leak into the student version`);
      // A student starts from a clean notebook: stored outputs (the lesson's are committed) would give answers away.
      return cell.cell_type === "code" ? { ...structuredClone(cell), outputs: [], execution_count: null } : structuredClone(cell);
    }
    if (cell.cell_type !== "code") throw new Error(`${where}: only code cells can be tagged solution`);
    if (!marked) throw new Error(`${where}: is tagged solution but has no // BEGIN SOLUTION ... // END SOLUTION lines to replace`);
    return { ...structuredClone(cell), source: stubSource(src, where), outputs: [], execution_count: null };
  });
  const todo = cells.filter(tagged).length;
  const banner: Cell = {
    cell_type: "markdown",
    id: BANNER_ID,
    metadata: {},
    source:
      `> **Student version** of \`${name}\`, with ${todo} exercise cell${todo === 1 ? "" : "s"} to fill in: look for \`// TODO\`. ` +
      "Run each *check* cell after the cell it checks; it tells you whether your code is right and gives a hint when it is not.",
  };
  const all = [banner, ...cells];
  // The stamp lets a later run tell a generated file from one a student has edited.
  const metadata = { ...structuredClone(nb.metadata), [STAMP]: { lesson: name, sources_sha256: sourcesHash(all) } };
  return { ...structuredClone(nb), metadata, cells: all };
}

/** A hash of what a student edits: the cells' types and sources (not outputs). */
function sourcesHash(cells: Cell[]): string {
  return createHash("sha256")
    .update(JSON.stringify(cells.map((c) => [c.cell_type, sourceText(c)])))
    .digest("hex");
}

/** Whether `file` is a student version this generator wrote that nobody has edited since. */
function untouched(file: string): boolean {
  try {
    const nb = JSON.parse(readFileSync(file, "utf8")) as LessonNotebook;
    const stamp = nb.metadata?.[STAMP] as { sources_sha256?: string } | undefined;
    return stamp?.sources_sha256 === sourcesHash(nb.cells);
  } catch {
    return false;
  }
}

/** Put the lesson's solutions back into a student version: gives the lesson again. */
export function restoreSolutions(student: LessonNotebook, lesson: LessonNotebook): LessonNotebook {
  const studentById = new Map(student.cells.filter((c) => c.id !== BANNER_ID).map((c) => [c.id, c]));
  const { [STAMP]: _stamp, ...metadata } = student.metadata;
  return {
    ...student,
    metadata,
    // the lesson's order: its hidden checks come back where they were
    cells: lesson.cells.map((c) => (tagged(c) || hiddenCheck(c) ? c : (studentById.get(c.id) ?? c))),
  };
}

export interface StudentVersionsResult {
  /** Files (re)written. */
  written: string[];
  /** Student files left as they were because someone edited them since they were generated. */
  kept: string[];
}

/**
 * Write the student version of every lesson in `fromDir` that has a cell
 * tagged `solution` into `toDir`. Never loses a student's work: a student
 * file that was edited since it was generated (or was not generated at all)
 * is left alone and reported in `kept`; delete it to get a fresh copy. Other
 * files in `toDir` are not touched, except generated, unedited versions of
 * lessons that no longer exist.
 */
export function writeStudentVersions(fromDir: string, toDir: string): StudentVersionsResult {
  if (path.resolve(fromDir) === path.resolve(toDir)) throw new Error(`the student versions cannot go into the lessons' own folder (${fromDir})`);
  const lessons = readdirSync(fromDir).filter((f) => f.endsWith(".ipynb")).sort();
  // Build every version before writing any, so a bad lesson changes nothing.
  const versions: Array<[string, LessonNotebook]> = [];
  for (const name of lessons) {
    const nb = JSON.parse(readFileSync(path.join(fromDir, name), "utf8")) as LessonNotebook;
    if (nb.cells.some(tagged)) versions.push([name, studentVersion(nb, name)]);
  }
  mkdirSync(toDir, { recursive: true });
  const result: StudentVersionsResult = { written: [], kept: [] };
  for (const [name, nb] of versions) {
    const file = path.join(toDir, name);
    if (existsSync(file) && !untouched(file)) {
      result.kept.push(file);
      continue;
    }
    writeFileSync(file, JSON.stringify(nb, null, 1) + "\n");
    result.written.push(file);
  }
  const current = new Set(versions.map(([name]) => name));
  for (const name of readdirSync(toDir)) {
    const file = path.join(toDir, name);
    if (name.endsWith(".ipynb") && !current.has(name) && untouched(file)) rmSync(file);
  }
  return result;
}
