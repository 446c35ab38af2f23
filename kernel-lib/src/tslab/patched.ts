/**
 * The pinned tslab's fixes for a tslab installed without them. In the kit's
 * repository patch-package applies patches/tslab+1.0.22.patch at install; a
 * course that installs kernel-lib from its package gets an unpatched tslab
 * and no npm override. So the preload loads the patched converter, executor
 * and jupyter modules (copied into dist/tslab/patched/ at build) in place of
 * tslab's own, and gives tslab's modules TypeScript 5.9 (kernel-lib's own
 * dependency) where they ask for their 5.0 fork, as the override does.
 */
import { existsSync, readFileSync } from "node:fs";
import Module, { createRequire } from "node:module";
import * as path from "node:path";

const PATCHED_VERSION = "1.0.22";
const FILES = ["converter.js", "executor.js", "jupyter.js"];

type Loader = (module: NodeJS.Module & { _compile(code: string, filename: string): void }, filename: string) => void;
interface ModuleInternals {
  _resolveFilename(request: string, parent: { filename?: string } | undefined, ...rest: unknown[]): string;
  _extensions: Record<string, Loader>;
}

/** Install the substitution for the tslab in `tslabDir`; false (and nothing done) when there is nothing to mend. */
export function usePatchedTslab(tslabDir: string): boolean {
  const patchedDir = path.join(__dirname, "patched");
  const dist = path.join(tslabDir, "dist") + path.sep;
  let version: string;
  try {
    version = JSON.parse(readFileSync(path.join(tslabDir, "package.json"), "utf8")).version;
  } catch {
    return false;
  }
  if (version !== PATCHED_VERSION || !FILES.every((f) => existsSync(path.join(patchedDir, f)))) return false;
  // the patched text of each file this install has unpatched
  const own = new Map(FILES.map((f): [string, string] => [f, readFileSync(path.join(patchedDir, f), "utf8")]).filter(([f, text]) => readFileSync(path.join(dist, f), "utf8") !== text));
  if (own.size === 0) return false; // patched in place already (this repository)
  const internals = Module as unknown as ModuleInternals;
  const fork = createRequire(path.join(dist, "main.js"));
  let forkVersion = "";
  try {
    forkVersion = fork("@tslab/typescript-for-tslab/package.json").version;
  } catch {
    // not installed: resolve it to ours
  }
  const ts = require("typescript/package.json").version as string;
  if (forkVersion !== ts) {
    const typescript = require.resolve("typescript");
    const resolve = internals._resolveFilename;
    internals._resolveFilename = function (request, parent, ...rest) {
      if (request === "@tslab/typescript-for-tslab" && parent?.filename?.startsWith(dist)) return typescript;
      return resolve.call(this, request, parent, ...rest);
    };
  }
  const loadJs = internals._extensions[".js"];
  internals._extensions[".js"] = function (module, filename) {
    const patched = filename.startsWith(dist) ? own.get(filename.slice(dist.length)) : undefined;
    if (patched !== undefined) {
      module._compile(patched, filename);
      return;
    }
    loadJs.call(this, module, filename);
  };
  return true;
}
