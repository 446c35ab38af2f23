import { existsSync, statSync } from "node:fs";
import * as path from "node:path";
import { writeStudentVersions } from "./student";

const USAGE = `Usage: kernel-lib-student <lessons folder> <output folder>

Writes the student version of every lesson (*.ipynb) in the lessons folder
that has cells tagged "solution" into the output folder. In those cells the
lines between "// BEGIN SOLUTION: <task>" and "// END SOLUTION" become
"// TODO: <task>" and a throw saying the same. A student file edited since it
was generated is never overwritten (delete it to get a fresh copy).`;

function main(): number {
  const args = process.argv.slice(2);
  if (args.includes("-h") || args.includes("--help")) {
    console.log(USAGE);
    return 0;
  }
  if (args.length !== 2) {
    console.error(USAGE);
    return 2;
  }
  const [from, to] = args.map((a) => path.resolve(a));
  if (!existsSync(from) || !statSync(from).isDirectory()) {
    console.error(`kernel-lib-student: no such folder: ${args[0]}`);
    return 2;
  }
  try {
    const { written, kept } = writeStudentVersions(from, to);
    const rel = (f: string) => path.relative(process.cwd(), f);
    console.log(`student versions: ${written.map(rel).join(", ") || `none written (no cell in ${args[0]} is tagged solution)`}`);
    for (const f of kept) console.log(`kept ${rel(f)}: it has been edited (or was not written by the generator); delete it to get a fresh copy`);
    return 0;
  } catch (e) {
    console.error(`kernel-lib-student: ${(e as Error).message}`);
    return 1;
  }
}

process.exit(main());
