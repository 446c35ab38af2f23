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

/** One solution region: the indent and task of its BEGIN line, and the lines between the markers. */
export interface SolutionRegion {
  indent: string;
  task: string;
  lines: string[];
}

/**
 * A solution cell's source cut at its solution regions: the fixed parts
 * (fixed[0] before the first region ... fixed[n] after the last, as lines) and
 * the regions. Throws, with `where` naming the cell, for markers that nest,
 * close nothing or never close.
 */
export function solutionParts(source: string, where = "cell"): { fixed: string[][]; regions: SolutionRegion[] } {
  const fixed: string[][] = [[]];
  const regions: SolutionRegion[] = [];
  let open: { line: number } | null = null;
  for (const [i, line] of source.split("\n").entries()) {
    const b = BEGIN.exec(line);
    if (b) {
      if (open) throw new Error(`${where}: line ${i + 1} opens a solution inside another one (line ${open.line})`);
      open = { line: i + 1 };
      regions.push({ indent: b[1], task: b[2] || "your code here", lines: [] });
    } else if (END.test(line)) {
      if (!open) throw new Error(`${where}: line ${i + 1} closes a solution that was never opened`);
      open = null;
      fixed.push([]);
    } else (open ? regions[regions.length - 1].lines : fixed[fixed.length - 1]).push(line);
  }
  if (open) throw new Error(`${where}: the solution opened on line ${open.line} is never closed (// END SOLUTION)`);
  return { fixed, regions };
}

/** Replace each solution region of one cell's source; `where` names the cell in errors. */
export function stubSource(source: string, where: string): string {
  const { fixed, regions } = solutionParts(source, where);
  const out = [...fixed[0]];
  regions.forEach(({ indent, task }, r) => out.push(`${indent}// TODO: ${task}`, `${indent}throw new Error(${JSON.stringify(`TODO: ${task}`)});`, ...fixed[r + 1]));
  return out.join("\n");
}

/** One cell of the student version: a solution cell stubbed, any code cell without outputs; `where` names it in errors. */
function studentCell(cell: Cell, where: string): Cell {
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
}

/** The student version of a lesson (a new object; the lesson is untouched). `name` is its file name. Hidden checks are left out. */
export function studentVersion(nb: LessonNotebook, name = "notebook"): LessonNotebook {
  const cells = nb.cells.flatMap((cell, i): Cell[] => (hiddenCheck(cell) ? [] : [studentCell(cell, `${name}, cell ${i + 1}${cell.id ? ` (${cell.id})` : ""}`)]));
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
