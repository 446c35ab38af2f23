#!/usr/bin/env node
// `npm run student` (also the last step of `npm run build`): write the student
// version of every lesson in notebooks/ into student/, with kernel-lib's
// generator (`kernel-lib-student`, `writeStudentVersions` in kernel-lib/runner).
// A file in student/ that has been edited (a student's work) is never
// overwritten; unedited ones are rewritten from the lessons on every build.
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { writeStudentVersions } = createRequire(import.meta.url)("kernel-lib/runner");
try {
  const { written, kept } = writeStudentVersions(path.join(root, "notebooks"), path.join(root, "student"));
  const rel = (f) => path.relative(root, f);
  console.log(`student versions: ${written.map(rel).join(", ") || "none written"}`);
  // A student's own work in student/ is never overwritten by a build.
  for (const f of kept) console.log(`kept ${rel(f)}: it has been edited (or was not written by the generator); delete it to get a fresh copy`);
} catch (e) {
  console.error(`npm run student: ${e.message}`);
  process.exit(1);
}
