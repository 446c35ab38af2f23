#!/usr/bin/env node
// Build step: copy the pinned tslab's patched files (patch-package applies
// patches/tslab+1.0.22.patch to node_modules/tslab at `npm install`) into
// dist/tslab/patched/, so that a course that installs kernel-lib from its
// tarball, with a tslab nobody patched, still gets the fixes: the preload
// loads these in place of tslab's own (src/tslab/patched.ts).
const { copyFileSync, mkdirSync, readFileSync } = require("node:fs");
const path = require("node:path");
const { parsePatch } = require("diff");

const tslab = path.dirname(require.resolve("tslab/package.json", { paths: [path.join(__dirname, "..")] }));
const version = require(path.join(tslab, "package.json")).version;
const out = path.join(__dirname, "..", "dist", "tslab", "patched");
mkdirSync(out, { recursive: true });
const patchFile = path.join(__dirname, "..", "..", "patches", `tslab+${version}.patch`);
const patches = parsePatch(readFileSync(patchFile, "utf8"));
for (const name of ["converter.js", "executor.js", "jupyter.js"]) {
  const file = path.join(tslab, "dist", name);
  const patch = patches.find((p) => p.newFileName.endsWith(`/tslab/dist/${name}`));
  const added = patch ? patch.hunks.flatMap((h) => h.lines.filter((l) => l.startsWith("+")).map((l) => l.slice(1))) : [];
  const text = readFileSync(file, "utf8");
  if (added.length === 0 || !added.every((line) => text.includes(line))) {
    console.error(`${file} does not carry ${path.basename(patchFile)}: run npm install at the repository's root (its postinstall applies the patch)`);
    process.exit(1);
  }
  copyFileSync(file, path.join(out, name));
}
console.log(`copied the patched tslab ${version} files into ${path.relative(process.cwd(), out)}`);
