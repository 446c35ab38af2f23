import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { sourceText, type Cell } from "./cells";
import { runNotebook, type CellFailure } from "./notebook";
import { solutionParts, stubSource, type LessonNotebook } from "./student";
import { CHECK_RESULT_MIME, type CheckResultData } from "../lesson/check";

/**
 * Grading student submissions of a lesson, as nbgrader does for Python: only
 * the student's work inside the solution regions is taken from a submission
 * (matched by cell id), put into the source lesson's own cells, and run in a
 * fresh kernel; the source's check cells (hidden checks included) say what
 * each exercise earns. A submission that loops, exits, crashes the kernel or
 * is not a notebook costs only its own points.
 */

export interface GradeOptions {
  /** The source lesson, with its solutions and check cells. */
  source: string;
  /** Submitted notebooks (student versions with work in them). */
  submissions: string[];
  /** Submissions graded at once, each in its own kernel (default 1). */
  jobs?: number;
  /** Per-cell limit in milliseconds (default 60 000). */
  cellTimeoutMs?: number;
  /** Folder for each student's feedback notebook and HTML page. */
  feedbackDir?: string;
  log?: (line: string) => void;
}

/** One check of the lesson: its cell, its name and what it is worth. */
export interface GradedCheck {
  cell: string;
  name: string;
  max: number;
}

export interface CheckOutcome extends GradedCheck {
  points: number;
  passed: boolean;
  /** What the check said (✓ or ✗ with its hint), or why it never ran. */
  message: string;
}

export interface SubmissionGrade {
  /** The submission's file name without .ipynb. */
  name: string;
  file: string;
  checks: CheckOutcome[];
  total: number;
  max: number;
  /** What went wrong beyond wrong answers: a timeout, a dead kernel, an unreadable file, edited cells. */
  problems: string[];
}

export interface Gradebook {
  source: string;
  checks: GradedCheck[];
  max: number;
  submissions: SubmissionGrade[];
}

const norm = (line: string) => line.trim();

/** Where `block` (lines) starts in `lines` at or after `from`, comparing trimmed lines; -1 if nowhere. */
function findBlock(lines: string[], block: string[], from: number): number {
  if (block.length === 0) return from;
  for (let i = from; i + block.length <= lines.length; i++) {
    if (block.every((b, j) => norm(b) === norm(lines[i + j]))) return i;
  }
  return -1;
}

/**
 * The source cell with its solution regions replaced by what the student wrote
 * there, found between the fixed parts of the cell; null when the student
 * changed a fixed part so that the regions cannot be told apart.
 */
export function studentWork(sourceCell: string, studentCell: string): string | null {
  const { fixed, regions } = solutionParts(sourceCell);
  const lines = studentCell.split("\n");
  let at = findBlock(lines, fixed[0], 0);
  if (at !== 0) return null;
  at = fixed[0].length;
  const work: string[][] = [];
  for (let r = 0; r < regions.length; r++) {
    const next = fixed[r + 1];
    // the last fixed part ends the cell: look for it from the end
    let found: number;
    if (r === regions.length - 1) {
      found = lines.length - next.length;
      if (found < at || findBlock(lines, next, found) !== found) return null;
    } else found = findBlock(lines, next, at);
    if (found < 0) return null;
    work.push(lines.slice(at, found));
    at = found + next.length;
  }
  const out: string[] = [...fixed[0]];
  work.forEach((w, r) => out.push(...w, ...fixed[r + 1]));
  return out.join("\n");
}

const isSolution = (c: Cell) => (c.metadata?.tags ?? []).includes("solution");

/** The source lesson with each solution region holding the submission's work; `problems` says what could not be taken. */
export function assemble(source: LessonNotebook, submission: LessonNotebook): { notebook: LessonNotebook; problems: string[] } {
  const problems: string[] = [];
  const byId = new Map(submission.cells.filter((c) => c.id).map((c) => [c.id, c]));
  const cells = source.cells.map((cell): Cell => {
    if (cell.cell_type !== "code") return structuredClone(cell);
    const fresh = { ...structuredClone(cell), outputs: [], execution_count: null };
    if (!isSolution(cell)) return fresh;
    const theirs = byId.get(cell.id);
    if (!theirs) {
      problems.push(`the exercise cell ${cell.id} is missing from the submission, so it was graded as left open`);
      return { ...fresh, source: stubSource(sourceText(cell), `cell ${cell.id}`) };
    }
    const work = studentWork(sourceText(cell), sourceText(theirs));
    if (work === null) {
      problems.push(`the code around the exercise in cell ${cell.id} was changed, so that cell was graded as written`);
      return { ...fresh, source: sourceText(theirs) };
    }
    return { ...fresh, source: work };
  });
  return { notebook: { ...structuredClone(source), cells }, problems };
}

/** The check reports in an executed notebook, by cell id. */
function reports(nb: LessonNotebook): Map<string, CheckResultData[]> {
  const found = new Map<string, CheckResultData[]>();
  for (const cell of nb.cells) {
    for (const o of (cell.outputs ?? []) as Array<{ data?: Record<string, unknown> }>) {
      const r = o.data?.[CHECK_RESULT_MIME] as CheckResultData | undefined;
      if (r && cell.id) found.set(cell.id, [...(found.get(cell.id) ?? []), r]);
    }
  }
  return found;
}

function describe(f: CellFailure, nb: LessonNotebook, timeoutMs: number): string | null {
  const id = nb.cells[f.cell - 1]?.id ?? `#${f.cell}`;
  if (f.reason === "timeout") return `cell ${id} did not finish within ${timeoutMs / 1000} s and was stopped; the checks after it got no points`;
  if (f.reason === "died") return `the kernel stopped at cell ${id} (${f.message.split("\n")[0]}); the checks after it got no points`;
  return null;
}

/** Run one assembled notebook; its executed copy. */
async function execute(nb: LessonNotebook, cwd: string, timeoutMs: number, dir: string, name: string) {
  const file = path.join(dir, `${name}.ipynb`);
  writeFileSync(file, JSON.stringify(nb, null, 1));
  const result = await runNotebook(file, {
    cwd,
    keepGoing: true,
    cellTimeoutMs: timeoutMs,
    interruptGraceMs: 2000,
    writeDir: path.join(dir, "out"),
    env: { KERNEL_LIB_GRADING: "1" },
    log: () => {},
  });
  const executed = JSON.parse(readFileSync(result.written!, "utf8")) as LessonNotebook;
  return { result, executed };
}

/** Grade every submission; write the feedback when asked. Never throws for a bad submission. */
export async function grade(options: GradeOptions): Promise<Gradebook> {
  const log = options.log ?? ((line: string) => process.stdout.write(line + "\n"));
  const timeoutMs = options.cellTimeoutMs ?? 60_000;
  const cwd = path.dirname(path.resolve(options.source));
  const source = JSON.parse(readFileSync(options.source, "utf8")) as LessonNotebook;
  const work = mkdtempSync(path.join(tmpdir(), "kernel-lib-grade-"));
  try {
    // The key: the lesson with its own solutions, where every check must pass.
    const key = await execute(assemble(source, source).notebook, cwd, timeoutMs, work, "answer-key");
    const checks: GradedCheck[] = [];
    for (const [cell, rs] of reports(key.executed)) {
      for (const r of rs) {
        if (!r.passed) throw new Error(`${options.source}: its own solution fails the check "${r.name}" (cell ${cell}): ${r.message}`);
        checks.push({ cell, name: r.name, max: r.points });
      }
    }
    if (checks.length === 0) throw new Error(`${options.source} has no check() or checkThat() cells to grade with`);
    const max = checks.reduce((s, c) => s + c.max, 0);
    log(`${path.basename(options.source)}: ${checks.length} checks, ${max} points`);

    const grades: SubmissionGrade[] = new Array(options.submissions.length);
    let next = 0;
    const worker = async () => {
      while (next < options.submissions.length) {
        const i = next++;
        const file = options.submissions[i];
        const name = path.basename(file).replace(/\.ipynb$/, "");
        const problems: string[] = [];
        let executed: LessonNotebook | null = null;
        let got = new Map<string, CheckResultData[]>();
        let submission: LessonNotebook | null = null;
        try {
          submission = JSON.parse(readFileSync(file, "utf8")) as LessonNotebook;
          if (!Array.isArray(submission?.cells)) throw new Error("it has no cells");
        } catch (e) {
          problems.push(`the file could not be read as a notebook (${(e as Error).message}), so nothing in it was graded`);
          submission = null;
        }
        if (submission) {
          const assembled = assemble(source, submission);
          problems.push(...assembled.problems);
          const run = await execute(assembled.notebook, cwd, timeoutMs, work, `submission-${i}`);
          executed = run.executed;
          got = reports(executed);
          for (const f of run.result.failures) {
            const d = describe(f, executed, timeoutMs);
            if (d) problems.push(d);
          }
        }
        const outcomes = checks.map((c): CheckOutcome => {
          const r = got.get(c.cell)?.find((x) => x.name === c.name);
          if (!r) return { ...c, points: 0, passed: false, message: "✗ did not run (see the problems above)" };
          return { ...c, points: r.passed ? c.max : 0, passed: r.passed, message: r.message };
        });
        const total = outcomes.reduce((s, o) => s + o.points, 0);
        grades[i] = { name, file, checks: outcomes, total, max, problems };
        log(`${name}: ${total} / ${max}${problems.length ? `  (${problems.join("; ")})` : ""}`);
        if (options.feedbackDir) writeFeedback(options.feedbackDir, grades[i], executed);
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.jobs ?? 1, options.submissions.length) }, worker));
    return { source: options.source, checks, max, submissions: grades };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const csvField = (v: string | number) => (typeof v === "number" || !/[",\n]/.test(v) ? String(v) : `"${v.replace(/"/g, '""')}"`);

/** One row per submission: each check's points, the total and the maximum. */
export function gradebookCsv(book: Gradebook): string {
  const rows = [["submission", ...book.checks.map((c) => c.name), "total", "max"]];
  for (const s of book.submissions) rows.push([s.name, ...s.checks.map((c) => String(c.points)), String(s.total), String(s.max)]);
  return rows.map((r) => r.map(csvField).join(",")).join("\n") + "\n";
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A student's page: every check with its points and what it said (hints included). */
export function feedbackHtml(g: SubmissionGrade): string {
  const rows = g.checks
    .map((c) => `<tr class="${c.passed ? "passed" : "failed"}"><td>${esc(c.name)}</td><td>${c.points} / ${c.max}</td><td><pre>${esc(c.message)}</pre></td></tr>`)
    .join("\n");
  const problems = g.problems.length ? `<ul class="problems">${g.problems.map((p) => `<li>${esc(p)}</li>`).join("")}</ul>` : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Feedback: ${esc(g.name)}</title>
<style>body{font-family:sans-serif;margin:2em}td{vertical-align:top;padding:.3em .6em;border-bottom:1px solid #ddd}.passed td:first-child{color:#1a7f37}.failed td:first-child{color:#cf222e}pre{margin:0;white-space:pre-wrap}.problems{color:#9a6700}</style>
</head><body>
<h1>${esc(g.name)}: ${g.total} of ${g.max} points</h1>
${problems}
<table><tr><th>check</th><th>points</th><th>result</th></tr>
${rows}
</table></body></html>
`;
}

function writeFeedback(dir: string, g: SubmissionGrade, executed: LessonNotebook | null): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${g.name}.html`), feedbackHtml(g));
  const summary: Cell = {
    cell_type: "markdown",
    id: "kernel-lib-feedback",
    metadata: {},
    source: [`# Feedback: ${g.total} of ${g.max} points`, "", ...g.problems.map((p) => `- **${p}**`), "", "| check | points | result |", "| --- | --- | --- |", ...g.checks.map((c) => `| ${c.name.replace(/\|/g, "\\|")} | ${c.points} / ${c.max} | ${c.message.split("\n")[0].replace(/\|/g, "\\|")} |`)].join("\n"),
  };
  const nb: LessonNotebook = executed ? { ...executed, cells: [summary, ...executed.cells] } : { nbformat: 4, metadata: {}, cells: [summary] };
  writeFileSync(path.join(dir, `${g.name}.ipynb`), JSON.stringify({ nbformat_minor: 5, ...nb }, null, 1) + "\n");
}
