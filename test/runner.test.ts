import { describe, expect, it, beforeAll } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { execFile } from "node:child_process";
import { compareOutputs, findKernelSpec, installKernelSpecs, junitReport, linesMatch, parseSanitizers, runNotebook, shard, type NotebookResult } from "kernel-lib/runner";

const fixtures = path.join(__dirname, "fixtures", "notebooks");
const quiet = { log: () => {} };
const cli = path.join(__dirname, "..", "node_modules", ".bin", "kernel-lib-run");

/** Run kernel-lib-run; its exit code and output. */
function runCli(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(cli, args, env ? { env } : {}, (err, stdout, stderr) => resolve({ code: err ? (err.code as number) : 0, stdout, stderr })),
  );
}

/** Run a Python program with Debian's python3 (which has nbformat); its stdout. */
function python(program: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile("/usr/bin/python3", ["-c", program, ...args], (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout))),
  );
}

describe("notebook runner on fixture notebooks (real tslab kernel)", () => {
  const outDir = mkdtempSync(path.join(tmpdir(), "runner-test-"));
  const results: Record<string, NotebookResult> = {};
  const lines: Record<string, string[]> = {};

  beforeAll(async () => {
    for (const name of ["passing", "throwing", "type-error", "hangs", "kernel-exits"]) {
      lines[name] = [];
      results[name] = await runNotebook(path.join(fixtures, `${name}.ipynb`), {
        cellTimeoutMs: 4000,
        interruptGraceMs: 2000,
        writeDir: outDir,
        log: (l) => lines[name].push(l),
      });
    }
  }, 180_000);

  it("passes a good notebook, honouring skip-execution and raises-exception", () => {
    const r = results.passing;
    expect(r.passed).toBe(true);
    expect(r.failure).toBeNull();
    expect(r.executed).toBe(5);
    expect(r.skipped).toBe(1);
  });

  it("records outputs as nbformat 4, display updates applied", () => {
    const nb = JSON.parse(readFileSync(path.join(outDir, "passing.ipynb"), "utf8"));
    const code = nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code");
    expect(code[0].outputs).toEqual([{ output_type: "stream", name: "stdout", text: "grad 5\n" }]);
    // An error is an error output (not stderr text), its frame at the cell's own line and column.
    expect(code[1].outputs).toHaveLength(1);
    expect(code[1].outputs[0]).toMatchObject({ output_type: "error", ename: "Error", evalue: "expected failure" });
    expect(code[1].outputs[0].traceback.slice(0, 2)).toEqual(["Error: expected failure", "    at In[2]:1:7"]);
    expect(code[2].outputs).toEqual([]);
    expect(code[3].outputs[0].text).toBe("after 3\n");
    expect(code[4].outputs).toEqual([{ output_type: "display_data", data: { "text/plain": "second" }, metadata: {} }]);
    // The last expression is the cell's result, numbered like the cell.
    expect(code.map((c: { execution_count: number | null }) => c.execution_count)).toEqual([1, 2, null, 3, 4, 5]);
    expect(code[5].outputs).toEqual([{ output_type: "execute_result", execution_count: 5, data: { "text/plain": "10" }, metadata: {} }]);
  });

  it("reports a thrown error with notebook, cell, source and message", () => {
    const r = results.throwing;
    expect(r.passed).toBe(false);
    expect(r.failure).toMatchObject({ cell: 3, codeCell: 2, reason: "error" });
    expect(r.failure!.source).toContain("function boom(): number {");
    expect(r.failure!.message).toContain("Error: boom at cell 2\n    at boom (In[2]:2:9)\n    at In[2]:4:1");
    const report = lines.throwing.join("\n");
    expect(report).toContain("throwing.ipynb: cell 3 (code cell 2) failed");
    // Reported once, from the error message (no stderr copy).
    expect(report.split("Error: boom at cell 2").length).toBe(2);
    expect(report).not.toContain("tslab/dist");
    // The cell after the failure is not run.
    const nb = JSON.parse(readFileSync(path.join(outDir, "throwing.ipynb"), "utf8"));
    expect(nb.cells[3].outputs).toEqual([]);
  });

  it("keepGoing runs the cells after a failure and still fails the notebook", async () => {
    const log: string[] = [];
    const r = await runNotebook(path.join(fixtures, "throwing.ipynb"), { keepGoing: true, writeDir: outDir + "-keep", log: (l) => log.push(l) });
    expect(r.passed).toBe(false);
    expect(r.failures).toHaveLength(1);
    expect(r.failure).toMatchObject({ cell: 3, reason: "error" });
    expect(r.executed).toBe(3);
    const nb = JSON.parse(readFileSync(path.join(outDir + "-keep", "throwing.ipynb"), "utf8"));
    expect(nb.cells[3].outputs).toEqual([{ output_type: "stream", name: "stdout", text: "never runs\n" }]);
    expect(log.join("\n")).toContain("cell 3 (code cell 2) failed");
  }, 60_000);

  it("reports a type error", () => {
    const r = results["type-error"];
    expect(r.passed).toBe(false);
    expect(r.failure).toMatchObject({ cell: 2, reason: "error" });
    expect(r.failure!.message).toContain("In[1]:1:7 - error TS2322: Type 'string' is not assignable to type 'number'.");
  });

  it("times out a hanging cell without hanging the run", () => {
    const r = results.hangs;
    expect(r.passed).toBe(false);
    expect(r.failure).toMatchObject({ cell: 3, reason: "timeout" });
    expect(r.failure!.message).toMatch(/no result within 4 s; interrupted/); // it did start the cell
    expect(r.ms).toBeLessThan(60_000);
  });

  it("fails a notebook whose kernel exits mid-run", () => {
    const r = results["kernel-exits"];
    expect(r.passed).toBe(false);
    expect(r.failure).toMatchObject({ cell: 3, reason: "died" });
    expect(r.failure!.message).toContain("exit code 3");
  });

  it("writes valid nbformat 4 (checked by Jupyter's own validator)", async () => {
    const check = `import nbformat, glob
for f in sorted(glob.glob(${JSON.stringify(outDir + "/*.ipynb")})):
    nbformat.validate(nbformat.read(f, 4))
print("valid")`;
    const out = await python(check);
    expect(out.trim()).toBe("valid");
  });
});

describe("kernel-lib-run CLI", () => {
  it("ends with 'N passed, N failed' and exits non-zero on a failure", async () => {
    const { code, stdout } = await runCli(["--timeout", "20", path.join(fixtures, "passing.ipynb"), path.join(fixtures, "type-error.ipynb")]);
    expect(code).toBe(1);
    expect(stdout.trim().split("\n").pop()).toBe("1 passed, 1 failed");
    expect(stdout).toContain("type-error.ipynb: cell 2 (code cell 1) failed");
  });

  it("--jobs 2 runs notebooks at the same time, and --junit writes a report CI services read", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "jobs-"));
    const junit = path.join(dir, "reports", "notebooks.xml");
    // Each rendezvous notebook waits until the other has started: they pass only side by side.
    const names = ["rendezvous-a", "rendezvous-b", "throwing"].map((n) => path.join(fixtures, `${n}.ipynb`));
    const { code, stdout } = await runCli(["--jobs", "2", "--junit", junit, ...names], { ...process.env, RENDEZVOUS_DIR: dir });
    expect(code).toBe(1);
    expect(stdout.trim().split("\n").pop()).toBe("2 passed, 1 failed");
    expect(stdout).toContain(`[${names[0]}]   [1/1] ok`);
    expect(stdout).toContain(`[${names[1]}]   [1/1] ok`);
    expect(stdout).toContain(`[${names[2]}] FAIL ${names[2]}`);
    // Read back with Python's XML parser, as a CI service would.
    const read = `import sys, xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot().find("testsuite")
print(suite.get("tests"), suite.get("failures"))
for case in suite.findall("testcase"):
    f = case.find("failure")
    print(case.get("name"), "ok" if f is None else "FAILED: " + f.get("message"))`;
    const report = await python(read, junit);
    expect(report.trim().split("\n")).toEqual([
      "3 1",
      `${names[0]} ok`,
      `${names[1]} ok`,
      `${names[2]} FAILED: cell 3 (code cell 2) failed: Error: boom at cell 2`,
    ]);
  }, 120_000);

  it("needs no Python or Jupyter: passes with only Node on PATH", async () => {
    // A PATH holding nothing but a link to node (its own folder may hold python3 and jupyter).
    const bin = mkdtempSync(path.join(tmpdir(), "only-node-"));
    symlinkSync(process.execPath, path.join(bin, "node"));
    const env = { HOME: process.env.HOME, PATH: bin };
    const { code, stdout } = await runCli([path.join(fixtures, "passing.ipynb")], env);
    expect(code, stdout).toBe(0);
    expect(stdout.trim().split("\n").pop()).toBe("1 passed, 0 failed");
  }, 60_000);

  it("refuses a notebook written for another kernel instead of type-checking Python", async () => {
    const log: string[] = [];
    const r = await runNotebook(path.join(fixtures, "python.ipynb"), { log: (l) => log.push(l) });
    expect(r.passed).toBe(false);
    expect(r.executed).toBe(0);
    expect(r.failure!.message).toBe("this notebook is for the python3 kernel (language python); kernel-lib-run runs TypeScript and JavaScript notebooks through tslab");
    expect(log.join("\n")).not.toContain("Cannot find name");
  });

  it("--junit output stays well-formed XML whatever a cell printed", async () => {
    const failure = { cell: 2, codeCell: 1, source: 'const s = "<b>&";', reason: "error" as const, message: "\x1b[31mRangeError: bad <shape> & \x07bell\x1b[0m\n    at f (x.ts:1:1)" };
    const notStarted = { cell: 0, codeCell: 0, source: "", reason: "died" as const, message: "the kernel did not start: tslab is not installed" };
    const results: NotebookResult[] = [
      { path: "a&b.ipynb", passed: false, failure, failures: [failure], executed: 2, skipped: 0, ms: 1234, written: null },
      { path: "c.ipynb", passed: false, failure: notStarted, failures: [notStarted], executed: 0, skipped: 0, ms: 5, written: null },
    ];
    const file = path.join(mkdtempSync(path.join(tmpdir(), "junit-")), "r.xml");
    writeFileSync(file, junitReport(results));
    const read = `import sys, xml.etree.ElementTree as ET
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    print(case.get("name"), case.get("time"), "|", case.find("failure").get("message"))`;
    const out = await python(read, file);
    expect(out.trim().split("\n")).toEqual([
      "a&b.ipynb 1.234 | cell 2 (code cell 1) failed: RangeError: bad <shape> & bell",
      "c.ipynb 0.005 | the kernel did not start: tslab is not installed",
    ]);
  });

  it("-p sets the parameters cell's names with their types, after it, in a cell tagged injected-parameters", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "params-"));
    const { code, stdout } = await runCli(["-p", "steps", "20", "--parameter", "label", '"ci"', "-p", "fast", "true", "--write", out, path.join(fixtures, "parameters.ipynb")]);
    expect(code, stdout).toBe(0);
    const nb = JSON.parse(readFileSync(path.join(out, "parameters.ipynb"), "utf8"));
    const injected = nb.cells[2];
    expect(injected.metadata.tags).toEqual(["injected-parameters"]);
    expect(injected.source).toBe('// Parameters given to this run\nconst steps: number = 20;\nconst label: string = "ci";\nconst fast: boolean = true;');
    expect(nb.cells[3].outputs[0].text).toBe("40 ci true number\n");
    // without -p the defaults hold
    const plain = await runCli(["--write", out, path.join(fixtures, "parameters.ipynb")]);
    expect(plain.code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(out, "parameters.ipynb"), "utf8")).cells[2].outputs[0].text).toBe("2000 full false number\n");
  });

  it("a lesson's long loop reads its length from its parameters cell: -p gdSteps 100 shortens lesson 06's race", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "lesson-params-"));
    const { code, stdout } = await runCli(["-p", "gdSteps", "100", "--write", out, path.join(__dirname, "..", "notebooks", "06-beyond-one-gradient.ipynb")]);
    expect(code, stdout).toBe(0);
    const printed = JSON.parse(readFileSync(path.join(out, "06-beyond-one-gradient.ipynb"), "utf8"))
      .cells.flatMap((c: { outputs?: Array<{ text?: string }> }) => c.outputs ?? [])
      .map((o: { text?: string }) => o.text ?? "")
      .join("");
    expect(printed).toMatch(/gradient descent after 100 steps: \(/);
  }, 120_000);

  it("-p refuses a name the notebook does not declare, and a value of another type", async () => {
    const undeclared = await runCli(["-p", "epochs", "3", path.join(fixtures, "parameters.ipynb")]);
    expect(undeclared.code).toBe(1);
    expect(undeclared.stdout).toContain("parameters.ipynb: its parameters cell does not declare epochs (it declares steps, label, fast)");
    const typed = await runCli(["-p", "steps", "many", path.join(fixtures, "parameters.ipynb")]);
    expect(typed.code).toBe(1);
    expect(typed.stdout).toContain('parameter steps is a number in the notebook, but -p steps gave the string "many"');
    const none = await runCli(["-p", "steps", "3", path.join(fixtures, "passing.ipynb")]);
    expect(none.stdout).toContain('has no cell tagged "parameters", so -p steps has nothing to set');
    expect((await runCli([fixtures, "-p", "steps"])).stderr).toContain("-p needs a name and a value: -p steps 20");
  });

  it("metadata overrides --timeout as nbmake reads it: execution.timeout, allow_errors, and a cell's own timeout", async () => {
    const { code, stdout } = await runCli(["--timeout", "60", path.join(fixtures, "metadata.ipynb")]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/\[1\/3\] ok .*throw new Error/); // allow_errors
    expect(stdout).toMatch(/\[2\/3\] ok /); // 2.5 s within the cell's 5 s
    expect(stdout).toContain("metadata.ipynb: cell 3 (code cell 3) timed out");
    expect(stdout).toContain("no result within 1 s");
  }, 60_000);

  it("--inplace writes a passed notebook back, byte for byte the same on a second run, and leaves a failed one untouched", async () => {
    mkdirSync(path.join(__dirname, "..", "test-output"), { recursive: true });
    const dir = mkdtempSync(path.join(__dirname, "..", "test-output", "inplace-"));
    const good = path.join(dir, "passing.ipynb");
    const bad = path.join(dir, "throwing.ipynb");
    writeFileSync(good, readFileSync(path.join(fixtures, "passing.ipynb")));
    writeFileSync(bad, readFileSync(path.join(fixtures, "throwing.ipynb")));
    const badBefore = readFileSync(bad, "utf8");
    const first = await runCli(["--inplace", good, bad]);
    expect(first.code).toBe(1);
    expect(first.stdout).toContain(`(left ${bad} as it was: the run failed)`);
    expect(readFileSync(bad, "utf8")).toBe(badBefore);
    const once = readFileSync(good, "utf8");
    expect(JSON.parse(once).cells.some((c: { outputs?: unknown[] }) => (c.outputs ?? []).length > 0)).toBe(true);
    expect((await runCli(["--inplace", good])).code).toBe(0);
    expect(readFileSync(good, "utf8")).toBe(once);
  }, 120_000);

  it("--kernel NAME runs with an installed kernel found as Jupyter finds it (JUPYTER_PATH first), IPython's included", async () => {
    // a kernelspec of our own on JUPYTER_PATH: tslab under another name
    const data = mkdtempSync(path.join(tmpdir(), "kernels-"));
    installKernelSpecs(data);
    renameSync(path.join(data, "kernels", "tslab"), path.join(data, "kernels", "course-ts"));
    const env = { ...process.env, JUPYTER_PATH: data };
    const own = await runCli(["--kernel", "course-ts", path.join(fixtures, "passing.ipynb")], env);
    expect(own.code, own.stdout).toBe(0);
    const before = process.env.JUPYTER_PATH;
    process.env.JUPYTER_PATH = data;
    try {
      expect(findKernelSpec("course-ts").dir).toBe(path.join(data, "kernels", "course-ts"));
    } finally {
      if (before === undefined) delete process.env.JUPYTER_PATH;
      else process.env.JUPYTER_PATH = before;
    }
    const missing = await runCli(["--kernel", "nonesuch", path.join(fixtures, "passing.ipynb")], env);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain(`no kernel named nonesuch: looked in `);
    expect(missing.stdout).toContain(path.join(data, "kernels"));
    // Debian's IPython kernel (from .ci/run's Jupyter packages) runs the Python fixture it refuses without --kernel
    if (!existsSync("/usr/share/jupyter/kernels/python3/kernel.json") && process.env.CI !== "true") return;
    const out = mkdtempSync(path.join(tmpdir(), "python-"));
    const py = await runCli(["--kernel", "python3", "--write", out, path.join(fixtures, "python.ipynb")]);
    expect(py.code, py.stdout).toBe(0);
    expect(JSON.parse(readFileSync(path.join(out, "python.ipynb"), "utf8")).cells[0].outputs).toEqual([{ output_type: "stream", name: "stdout", text: "[1.0, 2.0, 3.0]\n" }]);
  }, 120_000);

  // .ci/run installs Deno (.ci/install-deno.sh); elsewhere the test needs that script run first.
  const denoSpec = path.join(__dirname, "..", ".jupyter-local", "share", "jupyter", "kernels", "deno", "kernel.json");
  it.skipIf(!existsSync(denoSpec) && process.env.CI !== "true")("--kernel deno runs lessons 04 and 02 under Deno's kernel, figures and graph drawings as whole bundles", async () => {
    expect(existsSync(denoSpec), "Deno's kernel is not registered: run bash .ci/install-deno.sh").toBe(true);
    const out = mkdtempSync(path.join(tmpdir(), "deno-"));
    const lessons = path.join(__dirname, "..", "notebooks");
    const { code, stdout } = await runCli(["--kernel", "deno", "--write", out, path.join(lessons, "04-autograd-tensor-api.ipynb"), path.join(lessons, "02-automatic-differentiation-in-depth.ipynb")]);
    expect(code, stdout).toBe(0);
    const outputs = (name: string) =>
      (JSON.parse(readFileSync(path.join(out, name), "utf8")).cells as Array<{ outputs?: Array<{ output_type: string; text?: string; data?: Record<string, unknown> }> }>).flatMap((c) => c.outputs ?? []);
    const text = (name: string) => outputs(name).map((o) => o.text ?? "").join("");
    expect(text("04-autograd-tensor-api.ipynb")).toContain("grad can be implicitly created only for scalar outputs");
    expect(text("02-automatic-differentiation-in-depth.ipynb")).toContain("∂f/∂x1 = 21.000000 (should be 21)");
    // display() reached Deno.jupyter.display: the graph drawing and the figures came as bundles, not printed text
    const bundles = outputs("02-automatic-differentiation-in-depth.ipynb").filter((o) => o.output_type === "display_data").map((o) => o.data!);
    expect(bundles.find((d) => d["text/plain"] === "computational graph with 5 nodes")).toHaveProperty("image/svg+xml");
    const figure = bundles.find((d) => String(d["text/plain"]).startsWith("Figure "));
    expect(figure).toHaveProperty("application/vnd.plotly.v1+json");
    expect(figure).toHaveProperty("image/png");
    expect(text("02-automatic-differentiation-in-depth.ipynb")).not.toContain("computational graph with 5 nodes");
  }, 180_000);

  it("--shard I/N: the N slices partition the notebooks given, each the same on every machine", async () => {
    const all = ["c.ipynb", "a.ipynb", "e.ipynb", "b.ipynb", "d.ipynb"];
    const slices = [1, 2, 3].map((i) => shard(all, i, 3));
    expect(slices).toEqual([["a.ipynb", "d.ipynb"], ["b.ipynb", "e.ipynb"], ["c.ipynb"]]);
    expect(slices.flat().sort()).toEqual([...all].sort());
    expect(shard([...all].reverse(), 2, 3)).toEqual(slices[1]);
    // (a folder inside the project, so that the kernel is found from it)
    mkdirSync(path.join(__dirname, "..", "test-output"), { recursive: true });
    const dir = mkdtempSync(path.join(__dirname, "..", "test-output", "shards-"));
    for (const n of ["one", "two", "three"]) writeFileSync(path.join(dir, `${n}.ipynb`), readFileSync(path.join(fixtures, "passing.ipynb")));
    const { code, stdout } = await runCli(["--shard", "2/2", dir]);
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/^shard 2\/2: 1 of 3 notebooks\n/);
    expect(stdout).toContain("three.ipynb"); // one, three, two: the second is three
    expect(stdout.trim().split("\n").pop()).toBe("1 passed, 0 failed");
    const empty = await runCli(["--shard", "5/9", dir]);
    expect(empty.code).toBe(0);
    expect(empty.stdout.trim()).toBe("shard 5/9: 0 of 3 notebooks");
    const bad = await runCli(["--shard", "4/3", fixtures]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--shard needs I/N with 1 <= I <= N, got 4/3");
  }, 120_000);

  it("--check-outputs fails a changed output with a line diff naming notebook and cell, and goes on; sanitizers, --rtol and the tags as nbval reads them", async () => {
    const nb = path.join(fixtures, "outputs.ipynb");
    const sanitize = path.join(fixtures, "outputs.sanitize");
    const strict = await runCli(["--check-outputs", nb]);
    expect(strict.code).toBe(1);
    // cell 3: the gradient changed; every cell still ran
    expect(strict.stdout).toContain(
      `${nb}: cell 3 (code cell 2) printed something other than its stored output (- stored, + now)\n    | console.log("before");\n    | console.log("gradient", [6, 18]);\n    | console.log("after");\n      [stdout]\n      before\n    - gradient [ 6, 19 ]\n    + gradient [ 6, 18 ]\n      after\n`,
    );
    expect(strict.stdout).toMatch(/\[7\/7\] ok /);
    const failing = (out: string) => [...out.matchAll(/cell (\d+) \(code cell \d+\) printed/g)].map((m) => Number(m[1]));
    // unsanitized, the timing differs too (cell 4); the ignored cell 5, the HTML of cell 8 and the tagged cell 7 pass
    expect(failing(strict.stdout)).toEqual([3, 4, 6]);
    expect(strict.stdout).toContain("    - took 4.1 ms\n");
    const sanitized = await runCli(["--check-outputs", "--sanitize", sanitize, nb]);
    expect(failing(sanitized.stdout)).toEqual([3, 6]);
    expect(sanitized.stdout).toContain("    - 3.1415925\n    + 3.1415927\n");
    const tolerant = await runCli(["--check-outputs", "--sanitize", sanitize, "--rtol", "1e-6", nb]);
    expect(failing(tolerant.stdout)).toEqual([3]);
    // lax: only the cell tagged check-output is compared
    const lax = await runCli(["--check-outputs", "--lax", nb]);
    expect(lax.code, lax.stdout).toBe(0);
    // refreshed in place, the stored outputs then pass everywhere but the ignored and timed cells
    mkdirSync(path.join(__dirname, "..", "test-output"), { recursive: true });
    const copy = path.join(mkdtempSync(path.join(__dirname, "..", "test-output", "outputs-")), "outputs.ipynb");
    writeFileSync(copy, readFileSync(nb));
    expect((await runCli(["--inplace", copy])).code).toBe(0);
    const again = await runCli(["--check-outputs", "--sanitize", sanitize, copy]);
    expect(again.code, again.stdout).toBe(0);
    expect((await runCli(["--rtol", "1e-6", nb])).stderr).toContain("--rtol only means something with --check-outputs");
  }, 120_000);

  it("compares outputs as nbval does: sanitizers in its file format, numbers within rtol, kinds kept apart", () => {
    const [s] = parseSanitizers("[dates]\n# a comment\nregex: (?P<y>\\d{4})-(\\d\\d)-\\d\\d\nreplace: \\g<y>/\\2 $ok\n");
    expect("on 2026-12-02 and 2025-01-31".replace(s.regex, s.replace)).toBe("on 2026/12 $ok and 2025/01 $ok");
    expect(() => parseSanitizers("[a]\nregex: x\n", "f.cfg")).toThrow("f.cfg:1: section [a] needs both a regex and a replace");
    expect(() => parseSanitizers("regex: x\n", "f.cfg")).toThrow('f.cfg:1: expected "[name]"');
    expect(linesMatch("loss 1.0000001 at step 3", "loss 1.0 at step 3", 1e-6)).toBe(true);
    expect(linesMatch("loss 1.0001 at step 3", "loss 1.0 at step 3", 1e-6)).toBe(false);
    expect(linesMatch("loss 1.0 at step 3", "loss 1.0 at step 4", 0.5)).toBe(true);
    expect(linesMatch("loss 1.0 at step 3", "gain 1.0 at step 3", 0.5)).toBe(false);
    const out = (name: string, text: string) => ({ output_type: "stream", name, text });
    // the same text on stderr instead of stdout is a difference; text/plain of a value is compared, HTML is not
    expect(compareOutputs([out("stdout", "x\n")], [out("stderr", "x\n")])).toBe("- [stdout]\n+ [stderr]\n  x");
    const value = (plain: string, html: string) => ({ output_type: "execute_result", data: { "text/plain": plain, "text/html": html } });
    expect(compareOutputs([value("2", "<b>a</b>")], [value("2", "<i>b</i>")])).toBeNull();
    expect(compareOutputs([], [out("stdout", "new\n")])).toBe("(the notebook stores no output for this cell)\n+ [stdout]\n+ new");
    // stream text stored as a list of lines (nbformat allows both) is the same text
    expect(compareOutputs([{ output_type: "stream", name: "stdout", text: ["a\n", "b\n"] }], [out("stdout", "a\nb\n")])).toBeNull();
  });

  it("rejects bad arguments with usage", async () => {
    expect((await runCli(["--timeout", "-1", fixtures])).code).toBe(2);
    const jobs = await runCli(["--jobs", "0", fixtures]);
    expect(jobs.code).toBe(2);
    expect(jobs.stderr).toContain('--jobs needs a positive whole number, got "0"');
  });
});
