import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { preloadScript } from "../tslab/sends";

/** Where the tslab to run lives: its package folder and its CLI script. */
export interface TslabLocation {
  packageDir: string;
  script: string;
  version: string;
}

/**
 * The tslab a notebook in `fromDir` would get: the one in the nearest
 * node_modules above it (the project's pinned copy), else kernel-lib's own.
 */
export function findTslab(fromDir: string = process.cwd()): TslabLocation {
  for (const req of [createRequire(path.join(path.resolve(fromDir), "noop.js")), require]) {
    try {
      const pkgJson = req.resolve("tslab/package.json");
      const packageDir = path.dirname(pkgJson);
      const version = (req(pkgJson) as { version: string }).version;
      return { packageDir, script: path.join(packageDir, "bin", "tslab"), version };
    } catch {
      // try the next place
    }
  }
  throw new Error(`tslab is not installed: run \`npm install tslab\` in ${fromDir} (kernel-lib needs it to run notebooks)`);
}

/**
 * Write the `tslab` (TypeScript) and `jslab` (JavaScript) kernelspecs under
 * `<dataDir>/kernels/`, the layout Jupyter reads from each entry of
 * JUPYTER_PATH. argv holds absolute paths of this Node, kernel-lib's preload
 * and this tslab, so the kernel starts the same way whatever PATH Jupyter
 * runs with.
 */
export function installKernelSpecs(dataDir: string, tslab: TslabLocation = findTslab()): string[] {
  const written: string[] = [];
  for (const js of [false, true]) {
    const dir = path.join(path.resolve(dataDir), "kernels", js ? "jslab" : "tslab");
    mkdirSync(dir, { recursive: true });
    // The preload keeps tslab from losing messages (see ../tslab/sends).
    const argv = [process.execPath, "--require", preloadScript, tslab.script, "kernel", "--config-path", "{connection_file}"];
    if (js) argv.push("--js");
    const spec = {
      argv,
      display_name: js ? "JavaScript (tslab)" : "TypeScript (tslab)",
      language: js ? "javascript" : "typescript",
      metadata: { tslab_version: tslab.version },
    };
    writeFileSync(path.join(dir, "kernel.json"), JSON.stringify(spec, null, 2) + "\n");
    written.push(dir);
  }
  return written;
}
