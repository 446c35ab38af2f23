// Helpers for the tests that stand in for a hosted Jupyter (Binder, Colab-like
// sessions): a clean copy of the repository, a minimal environment, and
// running a lesson through Debian's nbconvert with a given Jupyter data path.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";

export const repoRoot = path.resolve(__dirname, "..", "..");
export const jupyter = "/usr/bin/jupyter";

/**
 * Copy the files git would put in a checkout of the working tree (tracked and
 * untracked-but-not-ignored files, as they are on disk) into `dest`: no
 * node_modules, no dist, nothing generated.
 */
export function copyWorkingTree(dest: string): string[] {
  const r = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: repoRoot, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr}`);
  const files = r.stdout.split("\0").filter((f) => f && existsSync(path.join(repoRoot, f)));
  for (const f of files) {
    const from = path.join(repoRoot, f);
    const to = path.join(dest, f);
    mkdirSync(path.dirname(to), { recursive: true });
    if (lstatSync(from).isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else copyFileSync(from, to); // keeps the mode (postBuild stays executable)
  }
  return files;
}

/** A folder holding a `node` that claims to be an old version and does nothing else. */
export function oldNodeStub(dir: string, version = "v18.0.0"): string {
  mkdirSync(dir, { recursive: true });
  const stub = path.join(dir, "node");
  writeFileSync(stub, `#!/bin/sh\n# stand-in for an old Node\ncase "$1" in --version|-v) echo ${version}; exit 0;; esac\necho "this is a stub of Node ${version}" >&2\nexit 1\n`);
  chmodSync(stub, 0o755);
  return dir;
}

function npmConfig(key: string): string {
  const r = spawnSync("npm", ["config", "get", key], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`npm config get ${key} failed: ${r.stderr}`);
  const v = r.stdout.trim();
  return v === "null" || v === "undefined" ? "" : v;
}

/**
 * npm settings for an `npm ci` in a fresh HOME: the test user's cache (no
 * download it already made, preferred over revalidating), and the CA file the
 * machine's npm is configured with (a Node unpacked elsewhere does not read
 * this machine's global npmrc).
 */
export function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    npm_config_cache: npmConfig("cache"),
    npm_config_prefer_offline: "true",
    npm_config_update_notifier: "false",
  };
  const cafile = npmConfig("cafile");
  if (cafile) env.npm_config_cafile = cafile;
  const registry = npmConfig("registry");
  if (registry) env.npm_config_registry = registry;
  return env;
}

export function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env, encoding: "utf8", timeout: opts.timeoutMs, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return r;
}

export function describeRun(r: SpawnSyncReturns<string>): string {
  return `exit ${r.status}${r.signal ? ` (signal ${r.signal})` : ""}\n--- stdout ---\n${r.stdout.slice(-8000)}\n--- stderr ---\n${r.stderr.slice(-8000)}`;
}

export interface KernelSpec {
  argv: string[];
  display_name: string;
  language: string;
}

export function readKernelSpec(dataDir: string, name = "tslab"): KernelSpec {
  return JSON.parse(readFileSync(path.join(dataDir, "kernels", name, "kernel.json"), "utf8"));
}

/** Text of every stream and text/plain output of a notebook file. */
export function notebookOutputText(nbPath: string): string {
  const nb = JSON.parse(readFileSync(nbPath, "utf8"));
  return nb.cells
    .flatMap((c: { outputs?: unknown[] }) => c.outputs ?? [])
    .map((o: { text?: string | string[]; data?: Record<string, string | string[]> }) => {
      const t = o.text ?? o.data?.["text/plain"] ?? "";
      return Array.isArray(t) ? t.join("") : t;
    })
    .join("\n");
}

/**
 * Execute `notebook` with Debian's `jupyter nbconvert --execute` and the kernel
 * named `kernel` (and any further nbconvert arguments), as a user with `env`
 * would; returns the executed copy's path.
 */
export function executeNotebook(notebook: string, outDir: string, env: NodeJS.ProcessEnv, kernel = "tslab", extraArgs: string[] = []): { result: SpawnSyncReturns<string>; output: string } {
  const result = run(
    jupyter,
    [
      "nbconvert",
      "--to",
      "notebook",
      "--execute",
      `--ExecutePreprocessor.kernel_name=${kernel}`,
      "--ExecutePreprocessor.timeout=300",
      "--output-dir",
      outDir,
      ...extraArgs,
      notebook,
    ],
    { cwd: path.dirname(notebook), env, timeoutMs: 360_000 },
  );
  return { result, output: path.join(outDir, path.basename(notebook)) };
}
