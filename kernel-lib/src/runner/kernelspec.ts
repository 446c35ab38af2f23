import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
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

/** An installed kernel: its name, folder and the argv Jupyter starts it with. */
export interface KernelSpec {
  name: string;
  dir: string;
  argv: string[];
  language?: string;
  /** Variables the kernel starts with, on top of the runner's own. */
  env?: Record<string, string>;
}

/**
 * The folders Jupyter looks for kernels in, in its order: each JUPYTER_PATH
 * entry, the user's data folder, the system's; and first the project-local
 * one `npm start` writes (.jupyter-local/share/jupyter above `fromDir`).
 */
export function kernelSearchPath(fromDir: string = process.cwd()): string[] {
  const dirs: string[] = [];
  for (let d = path.resolve(fromDir); ; d = path.dirname(d)) {
    dirs.push(path.join(d, ".jupyter-local", "share", "jupyter"));
    if (path.dirname(d) === d) break;
  }
  dirs.push(...(process.env.JUPYTER_PATH ?? "").split(path.delimiter).filter(Boolean));
  dirs.push(process.env.JUPYTER_DATA_DIR ?? path.join(process.env.XDG_DATA_HOME ?? path.join(homedir(), ".local", "share"), "jupyter"));
  dirs.push("/usr/local/share/jupyter", "/usr/share/jupyter");
  return dirs.map((d) => path.join(d, "kernels"));
}

/** The installed kernelspec called `name`, as Jupyter would find it; throws naming the folders searched. */
export function findKernelSpec(name: string, fromDir: string = process.cwd()): KernelSpec {
  const searched = kernelSearchPath(fromDir);
  for (const kernels of searched) {
    const file = path.join(kernels, name, "kernel.json");
    if (!existsSync(file)) continue;
    const spec = JSON.parse(readFileSync(file, "utf8")) as { argv?: unknown; language?: string; env?: Record<string, string> };
    if (!Array.isArray(spec.argv) || spec.argv.length === 0 || !spec.argv.every((a) => typeof a === "string")) {
      throw new Error(`${file}: argv must be a list of strings`);
    }
    return { name, dir: path.dirname(file), argv: spec.argv as string[], language: spec.language, env: spec.env };
  }
  throw new Error(`no kernel named ${name}: looked in ${searched.join(", ")}`);
}

