import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { installKernelSpecs, runNotebook, type NotebookResult } from "kernel-lib/runner";
import { executeNotebook, jupyter } from "./support/hosted";

// What the patched tslab (patches/tslab+1.0.22.patch, applied by patch-package
// at install) gives every Jupyter client: error messages with name, message and
// a traceback in the cell's own lines; results as execute_result with their
// count; declarations that survive a failing cell; cells checked strictly by
// TypeScript 5.9 against the running Node's library.

const fixtures = path.join(__dirname, "fixtures", "notebooks");
const haveJupyter = existsSync(jupyter) && existsSync("/usr/bin/python3");
if (!haveJupyter && process.env.CI === "true") {
  it("has Debian's jupyter and python3 (required in CI)", () => {
    throw new Error("missing in CI: /usr/bin/jupyter or /usr/bin/python3 (apt-get install jupyter-nbconvert python3-nbclient)");
  });
}

interface Output {
  output_type: string;
  ename?: string;
  evalue?: string;
  traceback?: string[];
  data?: Record<string, string | string[]>;
  execution_count?: number | null;
  name?: string;
}
interface SavedCell {
  cell_type: string;
  execution_count: number | null;
  outputs: Output[];
}
const codeCells = (file: string): SavedCell[] =>
  (JSON.parse(readFileSync(file, "utf8")).cells as SavedCell[]).filter((c) => c.cell_type === "code");

describe.skipIf(!haveJupyter)("Jupyter's own client (nbclient, as nbconvert, nbmake and papermill use it)", () => {
  // The kernelspec npm start, Binder and the hosted bootstrap register.
  const data = mkdtempSync(path.join(tmpdir(), "patched-tslab-"));
  installKernelSpecs(data);
  const env = { ...process.env, JUPYTER_PATH: data, JUPYTER_DATA_DIR: data };
  const notebook = path.join(fixtures, "jupyter-errors.ipynb");

  it("nbconvert --execute fails with the error's own message", () => {
    const { result } = executeNotebook(notebook, mkdtempSync(path.join(tmpdir(), "nbconvert-")), env);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("Error: gradient exploded at step 3");
    expect(result.stderr).toContain("at In[2]:1:7");
    expect(result.stderr).not.toContain("<Error>: \n");
  }, 120_000);

  it("with --allow-errors the saved notebook has error outputs (thrown and type errors), results and counts", () => {
    const out = mkdtempSync(path.join(tmpdir(), "nbconvert-allow-"));
    const { result, output } = executeNotebook(notebook, out, env, "tslab", ["--allow-errors"]);
    expect(result.status, result.stderr).toBe(0);
    const cells = codeCells(output);
    expect(cells.map((c) => c.execution_count)).toEqual([1, 2, 3]);
    expect(cells[0].outputs).toEqual([{ output_type: "execute_result", execution_count: 1, data: { "text/plain": ["3"] }, metadata: {} }]);
    expect(cells[1].outputs).toHaveLength(1);
    expect(cells[1].outputs[0]).toMatchObject({ output_type: "error", ename: "Error", evalue: "gradient exploded at step 3" });
    expect(cells[1].outputs[0].traceback).toEqual([
      "Error: gradient exploded at step 3",
      "    at In[2]:1:7",
      "",
      "In[2], line 1:",
      '1 throw new Error("gradient exploded at step 3");',
      "        ^",
    ]);
    expect(cells[2].outputs[0]).toMatchObject({ output_type: "error", ename: "TS2322", evalue: "Type 'string' is not assignable to type 'number'." });
    expect(cells[2].outputs[0].traceback!.slice(0, 3)).toEqual([
      "In[3]:1:7 - error TS2322: Type 'string' is not assignable to type 'number'.",
      '1 const b: number = "oops";',
      "        ~",
    ]);
  }, 120_000);

  it("jupyter_client sees execute_input, execute_result and error messages, and replies that carry ename, evalue and traceback", () => {
    const cells = ["6 * 7", 'throw new RangeError("step too large")', 'await Promise.reject(new Error("rejected later"))', "const b: number = 'oops';"];
    const client = `import json, sys, time
from jupyter_client.manager import start_new_kernel
km, kc = start_new_kernel(kernel_name="tslab")
seen = []
for code in json.loads(sys.argv[1]):
    msg_id = kc.execute(code)
    msgs = []
    while True:
        m = kc.get_iopub_msg(timeout=60)
        if m["parent_header"].get("msg_id") != msg_id: continue
        if m["msg_type"] == "status":
            if m["content"]["execution_state"] == "idle": break
            continue
        msgs.append({"type": m["msg_type"], "content": m["content"]})
    while True:
        r = kc.get_shell_msg(timeout=60)
        if r["parent_header"].get("msg_id") == msg_id: break
    reply = r["content"]
    seen.append({"iopub": msgs, "reply": reply})
    time.sleep(0.3)  # tslab aborts requests that arrive right after an error, as IPython does
km.shutdown_kernel(now=True)
print(json.dumps(seen))
`;
    const r = spawnSync("/usr/bin/python3", ["-c", client, JSON.stringify(cells)], { cwd: fixtures, env, encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    type Msg = { type: string; content: Record<string, unknown> };
    const seen = JSON.parse(r.stdout) as Array<{ iopub: Msg[]; reply: Record<string, unknown> }>;
    expect(seen[0].iopub).toEqual([
      { type: "execute_input", content: { code: "6 * 7", execution_count: 1 } },
      { type: "execute_result", content: { execution_count: 1, data: { "text/plain": "42" }, metadata: {} } },
    ]);
    expect(seen[0].reply).toMatchObject({ status: "ok", execution_count: 1 });
    const errors = seen.slice(1).map((s) => s.iopub.find((m) => m.type === "error")?.content);
    expect(errors.map((e) => [e?.ename, e?.evalue])).toEqual([
      ["RangeError", "step too large"],
      ["Error", "rejected later"],
      ["TS2322", "Type 'string' is not assignable to type 'number'."],
    ]);
    for (const [i, s] of seen.slice(1).entries()) {
      // The reply carries the same fields; no stderr copy of the error.
      expect(s.reply).toMatchObject({ status: "error", execution_count: i + 2, ename: errors[i]!.ename, evalue: errors[i]!.evalue });
      expect(s.reply.traceback).toEqual(errors[i]!.traceback);
      expect(s.iopub.filter((m) => m.type === "stream")).toEqual([]);
    }
    expect(errors[1]!.traceback).toContain("    at In[3]:1:22");
  }, 120_000);
});

describe.skipIf(!haveJupyter)("completion and inspection on TypeScript 5.9", () => {
  it("complete_request and inspect_request answer from the cells' types", () => {
    const data = mkdtempSync(path.join(tmpdir(), "patched-tslab-complete-"));
    installKernelSpecs(data);
    const client = `import json
from jupyter_client.manager import start_new_kernel
km, kc = start_new_kernel(kernel_name="tslab")
kc.execute_interactive('import { Variable } from "kernel-lib";\\nconst v = new Variable(2);', timeout=60)
out = {
  "complete": kc.complete("v.ba", 4, reply=True, timeout=60)["content"],
  "inspect": kc.inspect("Math.floor(1.5)", 7, reply=True, timeout=60)["content"],
}
km.shutdown_kernel(now=True)
print(json.dumps(out))
`;
    const r = spawnSync("/usr/bin/python3", ["-c", client], { cwd: fixtures, env: { ...process.env, JUPYTER_PATH: data }, encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.complete).toMatchObject({ status: "ok", cursor_start: 2, cursor_end: 4, matches: ["backward"] });
    expect(out.inspect).toMatchObject({ status: "ok", found: true });
    expect(out.inspect.data["text/plain"]).toMatch(/^\(method\) Math\.floor\(x: number\): number\n/);
  }, 120_000);
});

describe("the patched kernel through kernel-lib-run", () => {
  const run = (name: string): Promise<NotebookResult> =>
    runNotebook(path.join(fixtures, name), { keepGoing: true, writeDir: mkdtempSync(path.join(tmpdir(), "patched-")), log: () => {} });

  it("declarations made before a cell threw stay usable; one that never ran says so", async () => {
    const r = await run("survives.ipynb");
    const cells = codeCells(r.written!);
    expect(r.failures.map((f) => f.codeCell)).toEqual([1, 3]);
    expect(cells[1].outputs).toEqual([{ output_type: "stream", name: "stdout", text: "3 4 1\n" }]);
    expect(cells[2].outputs[0]).toMatchObject({
      output_type: "error",
      ename: "ReferenceError",
      evalue: "after is not defined: In[1] failed before its declaration of after ran. Fix that cell and run it again.",
    });
    // Declaring it again defines it.
    expect(cells[3].outputs[0]).toMatchObject({ output_type: "execute_result", data: { "text/plain": "6" } });
  }, 120_000);

  it("files created and removed in the notebook's folder while it runs (an autosave) do not break the next cells", async () => {
    // Unpatched, TypeScript's folder watcher schedules a rebuild between cells and every later cell fails with "Unexpected pending rebuildTimer".
    // (a folder inside the project, so that kernel-lib resolves from it)
    mkdirSync(path.join(__dirname, "..", "test-output"), { recursive: true });
    const dir = mkdtempSync(path.join(__dirname, "..", "test-output", "folder-changes-"));
    copyFileSync(path.join(fixtures, "folder-changes.ipynb"), path.join(dir, "folder-changes.ipynb"));
    let n = 0;
    const churn = setInterval(() => {
      const file = path.join(dir, `autosave-${n++ % 3}.ipynb`);
      if (existsSync(file)) rmSync(file);
      else writeFileSync(file, "{}");
    }, 50);
    try {
      const r = await runNotebook(path.join(dir, "folder-changes.ipynb"), { keepGoing: true, writeDir: path.join(dir, "out"), log: () => {} });
      expect(r.failures.map((f) => f.message)).toEqual([]);
      const results = codeCells(r.written!).map((c) => c.outputs.find((o) => o.output_type === "execute_result")?.data?.["text/plain"]);
      expect(results).toEqual(["0", "2", "4", "6", "8", "10"]);
    } finally {
      clearInterval(churn);
    }
  }, 120_000);

  it("JavaScript cells (jslab) get the new library and real errors but no strict type rules", async () => {
    const r = await run("javascript.ipynb");
    expect(r.failures).toEqual([]);
    const cells = codeCells(r.written!);
    expect(cells.slice(0, 3).map((c) => c.outputs[0]?.data?.["text/plain"])).toEqual(["NaN", "3", "[ 1, 2, 3 ]"]);
    expect(cells[3].outputs[0]).toMatchObject({ output_type: "error", ename: "Error", evalue: "js boom" });
    expect(cells[3].outputs[0].traceback!.slice(0, 2)).toEqual(["Error: js boom", "    at In[4]:1:7"]);
  }, 120_000);

  it("cells get the running Node's library, `using`, package exports, and strict checks", async () => {
    const r = await run("modern.ipynb");
    const cells = codeCells(r.written!);
    const result = (i: number) => cells[i].outputs.find((o) => o.output_type === "execute_result")?.data?.["text/plain"];
    const error = (i: number) => cells[i].outputs.find((o) => o.output_type === "error");
    expect(result(0)).toBe("2");
    expect(result(1)).toBe("[ 1, 2, 3 ]");
    expect(result(2)).toBe("used then disposed");
    expect(result(3)).toBe("function");
    if (Number(process.versions.node.split(".")[0]) >= 22) {
      expect(result(4)).toBe("[Object: null prototype] { odd: [ 1, 3 ], even: [ 2, 4 ] }");
    } else {
      // Node 20 has no Object.groupBy, and its library (ES2023) says so.
      expect(error(4)).toMatchObject({ ename: "TS2550" });
    }
    expect(error(5)).toMatchObject({ ename: "TS2322", evalue: "Type 'null' is not assignable to type 'string'." });
    expect(error(6)).toMatchObject({ ename: "TS7006", evalue: "Parameter 'x' implicitly has an 'any' type." });
  }, 120_000);
});
