import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { jobsOption, notebooksIn, parseCli, seconds } from "./cli-args";
import { grade, gradebookCsv } from "./grade";

const USAGE = `Usage: kernel-lib-grade --source LESSON.ipynb [options] <submission.ipynb | folder>...

Grades student submissions of a lesson: each submission's work in the
lesson's solution regions (cells matched by id) runs inside the lesson's own
cells, hidden checks included, in a fresh kernel; every check earns its points
(check(..., { points }), default 1). A loop that never ends, process.exit(),
a crashed kernel or a file that is not a notebook costs only the points that
submission did not reach, and its feedback says why.

Options:
  --source FILE     the lesson with its solutions (required)
  --out FILE        the gradebook as CSV (default grades.csv), and beside it
                    the same as JSON (grades.json)
  --feedback DIR    write each student's feedback notebook and HTML page
  --jobs N          submissions graded at once (default 1)
  --timeout SEC     per-cell limit (default 60)
  -h, --help        this text`;

async function main(): Promise<number> {
  const args = parseCli(USAGE, () =>
    parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: {
        source: { type: "string" },
        out: { type: "string" },
        feedback: { type: "string" },
        jobs: { type: "string" },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
  if (typeof args === "number") return args;
  const { source } = args.values;
  if (!source || args.positionals.length === 0) {
    console.error(USAGE);
    return 2;
  }
  let submissions: string[];
  let jobs: number;
  let cellTimeoutMs: number;
  try {
    jobs = jobsOption(args.values.jobs);
    cellTimeoutMs = seconds("--timeout", args.values.timeout, 60);
    submissions = args.positionals.flatMap(notebooksIn);
  } catch (e) {
    console.error(`kernel-lib-grade: ${(e as Error).message}`);
    return 2;
  }
  const book = await grade({ source, submissions, jobs, cellTimeoutMs, feedbackDir: args.values.feedback });
  const out = args.values.out ?? "grades.csv";
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileSync(out, gradebookCsv(book));
  const json = out.replace(/\.csv$/i, "") + ".json";
  writeFileSync(json, JSON.stringify(book, null, 2) + "\n");
  console.log(`wrote ${out} and ${json}: ${book.submissions.length} submissions, ${book.max} points each`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`kernel-lib-grade: ${(e as Error).message}`);
    process.exit(1);
  },
);
