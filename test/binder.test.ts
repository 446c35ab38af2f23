import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  copyWorkingTree,
  describeRun,
  executeNotebook,
  jupyter,
  notebookOutputText,
  npmEnv,
  oldNodeStub,
  readKernelSpec,
  repoRoot,
  run,
} from "./support/hosted";

// What repo2docker (mybinder.org) does with binder/, simulated: a fresh HOME,
// a folder standing in for the conda environment's prefix, a clean copy of the
// repository (no node_modules), binder/postBuild run from its root. Then a
// lesson runs through the kernel postBuild registered, found the way Binder's
// Jupyter finds it: in <prefix>/share/jupyter.

const slug = "autodiff-notebook-kit/autodiff-notebook-kit";
const haveJupyter = existsSync(jupyter);

describe("binder/ configuration", () => {
  it("environment.yml asks conda-forge for Node >= 20.19 and JupyterLab 4", () => {
    const yml = readFileSync(path.join(repoRoot, "binder", "environment.yml"), "utf8");
    expect(yml).toMatch(/^channels:\s*\n\s*-\s*conda-forge\s*$/m);
    const node = yml.match(/^\s*-\s*nodejs\s*=+\s*(\d+)/m);
    expect(node, "a nodejs=<major> pin").not.toBeNull();
    expect(Number(node![1])).toBeGreaterThanOrEqual(22);
    expect(yml).toMatch(/^\s*-\s*jupyterlab\s*=+\s*4\b/m);
  });

  it("postBuild is an executable bash script that stops on errors", () => {
    const file = path.join(repoRoot, "binder", "postBuild");
    expect(statSync(file).mode & 0o111).not.toBe(0);
    const text = readFileSync(file, "utf8");
    expect(text.startsWith("#!/usr/bin/env bash\n")).toBe(true);
    expect(text).toContain("set -euo pipefail");
  });

  it("the README's badge, package.json and the bootstrap script name the same repository", () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8"));
    expect(pkg.repository?.url).toBe(`git+https://github.com/${slug}.git`);
    const readme = readFileSync(path.join(repoRoot, "README.md"), "utf8");
    const badge = `[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/${slug}/HEAD?urlpath=lab/tree/notebooks)`;
    expect(readme.split("\n").slice(0, 5).join("\n")).toContain(badge);
    // every GitHub or Binder link in the README points at that one repository
    for (const m of readme.matchAll(/(?:github\.com|mybinder\.org\/v2\/gh|raw\.githubusercontent\.com)\/([\w.-]+\/[\w.-]+)/g)) {
      if (m[1] === "yunabe/tslab") continue;
      expect(m[1].replace(/\.git$/, "")).toBe(slug);
    }
    const script = readFileSync(path.join(repoRoot, "scripts", "bootstrap-hosted.sh"), "utf8");
    expect(script).toContain(`https://github.com/${slug}`);
  });
});

describe.skipIf(!haveJupyter && process.env.CI !== "true")("binder/postBuild in a simulated repo2docker build", () => {
  let tmp: string;
  let repo: string;
  let prefix: string;
  let home: string;
  let env: NodeJS.ProcessEnv;
  const nodeDir = path.dirname(process.execPath);

  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), "binder-test-"));
    repo = path.join(tmp, "repo");
    prefix = path.join(tmp, "srv", "conda", "envs", "notebook");
    home = path.join(tmp, "home", "jovyan");
    for (const d of [repo, prefix, home]) mkdirSync(d, { recursive: true });
    copyWorkingTree(repo);
    env = {
      HOME: home,
      USER: "jovyan",
      LANG: "C.UTF-8",
      PATH: [nodeDir, "/usr/local/bin", "/usr/bin", "/bin"].join(path.delimiter),
      NB_PYTHON_PREFIX: prefix,
      CONDA_PREFIX: prefix,
      // On Binder the environment's own Jupyter reads <prefix>/share/jupyter;
      // Debian's Jupyter here needs to be told.
      JUPYTER_PATH: path.join(prefix, "share", "jupyter"),
      ...npmEnv(),
    };
  });

  afterAll(() => {
    if (tmp && !process.env.KEEP_TEST_TMP) rmSync(tmp, { recursive: true, force: true });
  });

  it("the copy has no node_modules or build output to start from", () => {
    expect(existsSync(path.join(repo, "binder", "postBuild"))).toBe(true);
    expect(existsSync(path.join(repo, "node_modules"))).toBe(false);
    expect(existsSync(path.join(repo, "kernel-lib", "dist"))).toBe(false);
  });

  it("fails with a clear message when no environment prefix is set", () => {
    const { NB_PYTHON_PREFIX: _a, CONDA_PREFIX: _b, ...noPrefix } = env;
    const r = run("binder/postBuild", [], { cwd: repo, env: noPrefix, timeoutMs: 60_000 });
    expect(r.status, describeRun(r)).not.toBe(0);
    expect(r.stderr).toMatch(/neither NB_PYTHON_PREFIX nor CONDA_PREFIX is set/);
    expect(existsSync(path.join(repo, "node_modules")), "it stopped before installing anything").toBe(false);
  });

  it("fails with a clear message when Node is too old", () => {
    const stubDir = oldNodeStub(path.join(tmp, "old-node"), "v20.18.1");
    const r = run("binder/postBuild", [], { cwd: repo, env: { ...env, PATH: `${stubDir}${path.delimiter}${env.PATH}` }, timeoutMs: 60_000 });
    expect(r.status, describeRun(r)).not.toBe(0);
    expect(r.stderr).toMatch(/Node v20\.18\.1 .* is too old: the lessons need Node >= 20\.19/);
    expect(existsSync(path.join(repo, "node_modules"))).toBe(false);
  });

  it("installs, builds and registers tslab with absolute paths; a lesson runs on it", () => {
    const t0 = Date.now();
    const r = run("binder/postBuild", [], { cwd: repo, env, timeoutMs: 360_000 });
    expect(r.status, describeRun(r)).toBe(0);
    expect(r.stdout).toContain("jupyter kernelspec list shows tslab");
    expect(existsSync(path.join(repo, "node_modules", "tslab", "package.json"))).toBe(true);
    expect(existsSync(path.join(repo, "kernel-lib", "dist", "runner", "index.js"))).toBe(true);

    const dataDir = path.join(prefix, "share", "jupyter");
    const spec = readKernelSpec(dataDir);
    expect(spec.display_name).toBe("TypeScript (tslab)");
    const [exe, require, preload, script, ...rest] = spec.argv;
    for (const f of [exe, preload, script]) expect(path.isAbsolute(f) && statSync(f).isFile(), f).toBe(true);
    expect(realpathSync(exe)).toBe(realpathSync(path.join(nodeDir, "node"))); // the node on postBuild's PATH
    expect([require, preload]).toEqual(["--require", path.join(repo, "kernel-lib", "dist", "tslab", "preload.js")]); // the fix for lost output
    expect(script).toBe(path.join(repo, "node_modules", "tslab", "bin", "tslab")); // the copy's tslab, not ours
    expect(rest).toEqual(["kernel", "--config-path", "{connection_file}"]);
    expect(readKernelSpec(dataDir, "jslab").argv).toContain("--js");

    const out = path.join(tmp, "executed");
    const { result, output } = executeNotebook(path.join(repo, "notebooks", "04-autograd-tensor-api.ipynb"), out, env);
    expect(result.status, describeRun(result)).toBe(0);
    const text = notebookOutputText(output);
    expect(text).toContain("tensor([ 0.,  4.,  8., 12.])");
    expect(text).toContain("tensor(28., gradFn=<MulBackward>)");
    console.log(`binder: postBuild + lesson 04 took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 600_000);
});
