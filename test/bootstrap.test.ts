import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
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

// scripts/bootstrap-hosted.sh as a user of a hosted Jupyter would run it: a
// fresh HOME, a `node` on PATH that is too old (a stub printing v18.0.0), Node
// "downloaded" from a file:// mirror laid out like nodejs.org/dist (built here
// from the Node running the tests, with npm), the project cloned from a local
// git repository made from the working tree. Then a lesson runs through the
// kernel it registered, found by Jupyter in the user's data folder alone.

const script = path.join(repoRoot, "scripts", "bootstrap-hosted.sh");
const version = process.versions.node;
const platform = process.arch === "arm64" ? "linux-arm64" : "linux-x64";
const nodeName = `node-v${version}-${platform}`;
const supported = process.platform === "linux" && (process.arch === "x64" || process.arch === "arm64");
const haveJupyter = existsSync(jupyter);

function git(args: string[], cwd: string): string {
  const r = spawnSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_AUTHOR_NAME: "test", GIT_AUTHOR_EMAIL: "test@example.invalid", GIT_COMMITTER_NAME: "test", GIT_COMMITTER_EMAIL: "test@example.invalid" },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
}

/** <dist>/v<version>/{<nodeName>.tar.gz, SHASUMS256.txt}, the layout of nodejs.org/dist. */
function buildNodeMirror(dist: string, staging: string): void {
  const top = path.join(staging, nodeName);
  mkdirSync(path.join(top, "bin"), { recursive: true });
  mkdirSync(path.join(top, "lib", "node_modules"), { recursive: true });
  copyFileSync(process.execPath, path.join(top, "bin", "node"));
  // the npm on PATH (a Node without its own npm, as CI's second Node line, runs that one)
  const npmBin = spawnSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).stdout.trim();
  const npmDir = path.resolve(realpathSync(npmBin), "..", "..");
  if (!existsSync(path.join(npmDir, "bin", "npm-cli.js"))) throw new Error(`no npm at ${npmDir} to put in the test tarball`);
  cpSync(npmDir, path.join(top, "lib", "node_modules", "npm"), { recursive: true, verbatimSymlinks: true });
  symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", path.join(top, "bin", "npm"));
  symlinkSync("../lib/node_modules/npm/bin/npx-cli.js", path.join(top, "bin", "npx"));
  const dir = path.join(dist, `v${version}`);
  mkdirSync(dir, { recursive: true });
  const tarball = path.join(dir, `${nodeName}.tar.gz`);
  const r = spawnSync("tar", ["-czf", tarball, "-C", staging, nodeName], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
  const sum = createHash("sha256").update(readFileSync(tarball)).digest("hex");
  writeFileSync(
    path.join(dir, "SHASUMS256.txt"),
    `${"0".repeat(64)}  node-v${version}-darwin-arm64.tar.gz\n${sum}  ${nodeName}.tar.gz\n${"f".repeat(64)}  ${nodeName}.tar.xz\n`,
  );
}

describe("the bootstrap one-liner", () => {
  const oneLiner =
    "curl -fsSL https://raw.githubusercontent.com/autodiff-notebook-kit/autodiff-notebook-kit/HEAD/scripts/bootstrap-hosted.sh | bash";

  it("is the same in the README, the script's header and the companion notebook", () => {
    const readme = readFileSync(path.join(repoRoot, "README.md"), "utf8");
    expect(readme).toContain("## Hosted sessions (Colab-like)");
    expect(readme).toContain("```sh\n" + oneLiner + "\n```");
    expect(readFileSync(script, "utf8")).toContain(`#   ${oneLiner}\n`);
    expect(statSync(script).mode & 0o111).not.toBe(0);

    const nbPath = path.join(repoRoot, "scripts", "bootstrap-hosted.ipynb");
    const nb = JSON.parse(readFileSync(nbPath, "utf8"));
    expect(nb.metadata.kernelspec.name).toBe("python3"); // runs before tslab exists
    const code = nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code");
    expect(code).toHaveLength(1);
    expect([code[0].source].flat().join("")).toBe(`!${oneLiner}`);
    if (existsSync("/usr/bin/python3")) {
      const v = spawnSync("/usr/bin/python3", ["-c", "import sys, nbformat; nbformat.validate(nbformat.read(sys.argv[1], as_version=4))", nbPath], { encoding: "utf8" });
      expect(v.status, v.stderr).toBe(0);
    }
  });
});

describe.skipIf(!supported || (!haveJupyter && process.env.CI !== "true"))("scripts/bootstrap-hosted.sh in a fresh hosted session", () => {
  let tmp: string;
  let home: string;
  let dist: string;
  let origin: string;
  let content: string;
  let env: NodeJS.ProcessEnv;
  let kitDir: string;

  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), "bootstrap-test-"));
    home = path.join(tmp, "home");
    dist = path.join(tmp, "dist");
    origin = path.join(tmp, "origin");
    content = path.join(tmp, "content"); // where Colab would run notebooks
    mkdirSync(home);
    buildNodeMirror(dist, path.join(tmp, "staging"));
    rmSync(path.join(tmp, "staging"), { recursive: true });
    copyWorkingTree(origin);
    git(["init", "-q", "-b", "main"], origin);
    git(["add", "-A"], origin);
    git(["commit", "-q", "-m", "the working tree"], origin);
    kitDir = path.join(home, "autodiff-notebook-kit");
    const stubs = oldNodeStub(path.join(tmp, "old-node"), "v18.0.0");
    env = {
      HOME: home,
      USER: "student",
      LANG: "C.UTF-8",
      PATH: [stubs, "/usr/local/bin", "/usr/bin", "/bin"].join(path.delimiter),
      KIT_REPO: `file://${origin}`,
      KIT_NODE_VERSION: version,
      KIT_NODE_DIST_URL: `file://${dist}`,
      KIT_NODE_MODULES_LINK: content,
      ...npmEnv(),
    };
  }, 180_000);

  afterAll(() => {
    if (tmp && !process.env.KEEP_TEST_TMP) rmSync(tmp, { recursive: true, force: true });
  });

  it("refuses a Node download whose checksum does not match", () => {
    const bad = path.join(tmp, "bad-dist");
    cpSync(dist, bad, { recursive: true });
    writeFileSync(path.join(bad, `v${version}`, "SHASUMS256.txt"), `${"0".repeat(64)}  ${nodeName}.tar.gz\n`);
    const badHome = path.join(tmp, "bad-home");
    mkdirSync(badHome);
    const r = run("bash", [script], { cwd: tmp, env: { ...env, HOME: badHome, KIT_NODE_DIST_URL: `file://${bad}` }, timeoutMs: 120_000 });
    expect(r.status, describeRun(r)).not.toBe(0);
    expect(r.stdout).toContain("(/");
    expect(r.stdout).toMatch(/v18\.0\.0\) is older than 20\.19/);
    expect(r.stderr).toMatch(/checksum mismatch/);
    expect(existsSync(path.join(badHome, ".local", "lib", "nodejs", nodeName)), "nothing unpacked").toBe(false);
    expect(existsSync(path.join(badHome, "autodiff-notebook-kit")), "stopped before cloning").toBe(false);
    rmSync(bad, { recursive: true });
  });

  it("installs Node, clones, builds and registers tslab; a lesson runs on it", () => {
    const t0 = Date.now();
    const r = run("bash", [script], { cwd: tmp, env, timeoutMs: 360_000 });
    expect(r.status, describeRun(r)).toBe(0);
    const out = r.stdout;

    // Node: the old one was noticed, ours was unpacked under HOME and is the one used
    const nodeBin = path.join(home, ".local", "lib", "nodejs", nodeName, "bin");
    expect(out).toMatch(/v18\.0\.0\) is older than 20\.19/);
    expect(out).toContain(`installing Node v${version} from file://${dist}/v${version}/${nodeName}.tar.gz`);
    expect(statSync(path.join(nodeBin, "node")).isFile()).toBe(true);
    expect(out).toContain(`Node v${version}, npm `);
    expect(readlinkSync(path.join(home, ".local", "bin", "node"))).toBe(path.join(nodeBin, "node"));

    // the project
    expect(out).toContain(`cloning file://${origin} into ${kitDir}`);
    expect(git(["rev-parse", "HEAD"], kitDir)).toBe(git(["rev-parse", "HEAD"], origin));
    expect(existsSync(path.join(kitDir, "kernel-lib", "dist", "runner", "index.js"))).toBe(true);

    // the kernel, in the user's data folder, with absolute paths to that Node and tslab
    const dataDir = path.join(home, ".local", "share", "jupyter");
    const spec = readKernelSpec(dataDir);
    expect(spec.argv).toEqual([
      path.join(nodeBin, "node"),
      "--require",
      path.join(kitDir, "kernel-lib", "dist", "tslab", "preload.js"), // the fix for lost output
      path.join(kitDir, "node_modules", "tslab", "bin", "tslab"),
      "kernel",
      "--config-path",
      "{connection_file}",
    ]);
    for (const f of [0, 2, 3].map((i) => spec.argv[i])) expect(statSync(f).isFile(), f).toBe(true);
    expect(out).toContain("`jupyter kernelspec list` shows tslab");

    // what it tells the user
    expect(out).toContain(`open ${kitDir}/notebooks/01-automatic-differentiation.ipynb`);
    expect(out).toContain('Kernel -> Change Kernel... -> "TypeScript (tslab)"');
    expect(out).toMatch(/Google Colab \(not tested by this project\): Colab's menus offer only Python,\s+R and Julia runtimes/);
    expect(out).toContain("!curl -fsSL https://raw.githubusercontent.com/autodiff-notebook-kit/autodiff-notebook-kit/HEAD/scripts/bootstrap-hosted.sh | bash");

    // Jupyter finds the kernel with nothing but HOME (no JUPYTER_PATH), and the lesson runs
    const nb = executeNotebook(path.join(kitDir, "notebooks", "04-autograd-tensor-api.ipynb"), path.join(tmp, "executed"), {
      HOME: home,
      LANG: "C.UTF-8",
      PATH: "/usr/bin:/bin",
    });
    expect(nb.result.status, describeRun(nb.result)).toBe(0);
    expect(notebookOutputText(nb.output)).toContain("tensor([ 0.,  4.,  8., 12.])");
    console.log(`bootstrap: first run + lesson 04 took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 600_000);

  it("runs again: reuses that Node, pulls the new commit, and a notebook outside the project finds kernel-lib", () => {
    const t0 = Date.now();
    writeFileSync(path.join(origin, "PULLED.txt"), "a commit made after the first run\n");
    git(["add", "PULLED.txt"], origin);
    git(["commit", "-q", "-m", "a later commit"], origin);

    const r = run("bash", [script], { cwd: tmp, env, timeoutMs: 360_000 });
    expect(r.status, describeRun(r)).toBe(0);
    const nodeBin = path.join(home, ".local", "lib", "nodejs", nodeName, "bin");
    expect(r.stdout).toContain(`using Node v${version} installed earlier: ${nodeBin}/node`);
    expect(r.stdout).not.toContain("installing Node");
    expect(r.stdout).toContain(`updating ${kitDir} (git pull --ff-only)`);
    expect(r.stdout).not.toContain("cloning");
    expect(readFileSync(path.join(kitDir, "PULLED.txt"), "utf8")).toContain("after the first run");
    expect(git(["rev-parse", "HEAD"], kitDir)).toBe(git(["rev-parse", "HEAD"], origin));
    expect(readKernelSpec(path.join(home, ".local", "share", "jupyter")).argv[0]).toBe(path.join(nodeBin, "node"));

    // the Colab case: the notebook sits in another folder, next to the node_modules link
    expect(realpathSync(path.join(content, "node_modules"))).toBe(realpathSync(path.join(kitDir, "node_modules")));
    const copy = path.join(content, "lesson.ipynb");
    copyFileSync(path.join(kitDir, "notebooks", "04-autograd-tensor-api.ipynb"), copy);
    const nb = executeNotebook(copy, path.join(tmp, "executed-content"), { HOME: home, LANG: "C.UTF-8", PATH: "/usr/bin:/bin" });
    expect(nb.result.status, describeRun(nb.result)).toBe(0);
    expect(notebookOutputText(nb.output)).toContain("tensor(28., gradFn=<MulBackward>)");
    console.log(`bootstrap: second run + lesson 04 took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 600_000);
});
