// tslab loses Jupyter messages once a cell sends a few hundred of them
// (kernel-lib/src/tslab/sends.ts says why). These tests show the loss on bare
// zeromq and through a kernel registered the plain way, and that kernel-lib's
// fix (the preload its runner and kernelspecs use, and the patch applied when
// a notebook imports kernel-lib) delivers every message, in order.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { installKernelSpecs, runNotebook } from "kernel-lib/runner";
import { findTslab } from "../kernel-lib/src/runner/kernelspec";
import { executeNotebook, describeRun, notebookOutputText, repoRoot } from "./support/hosted";

const fixtures = path.join(__dirname, "fixtures", "notebooks");
const allLines = Array.from({ length: 3000 }, (_, i) => `line ${i}`);

/** The `line N` lines of a text, in the order they appear. */
const linesOf = (text: string) => text.split("\n").filter((l) => l.startsWith("line "));

/**
 * Publish `n` messages without waiting, as tslab does, to a subscriber in the
 * same process; report what was thrown, what arrived, and any warning.
 */
function publish(n: number, patch: "none" | "before-bind" | "after-bind") {
  const script = `
    const zmq = require(${JSON.stringify(require.resolve("zeromq"))});
    const fix = () => require(${JSON.stringify(path.join(repoRoot, "kernel-lib/dist/tslab/sends.js"))}).serializeZeromq(zmq);
    if (${JSON.stringify(patch)} === "before-bind") fix(); // as the preload does
    (async () => {
      const pub = new zmq.Publisher({ linger: 0 });
      const sub = new zmq.Subscriber({ linger: 0 });
      await pub.bind("tcp://127.0.0.1:*");
      sub.connect(pub.lastEndpoint);
      sub.subscribe();
      await new Promise((r) => setTimeout(r, 300)); // let the subscription reach the publisher
      if (${JSON.stringify(patch)} === "after-bind") fix(); // as importing kernel-lib into a running kernel does
      let thrown = 0;
      for (let i = 0; i < ${n}; i++) try { pub.send(String(i)); } catch { thrown++; }
      let received = 0, inOrder = true;
      const report = () => { console.log(JSON.stringify({ thrown, received, inOrder })); process.exit(0); };
      const quiet = setTimeout(report, 3000);
      for await (const [m] of sub) {
        if (Number(m.toString()) !== received) inOrder = false;
        if (++received === ${n}) { clearTimeout(quiet); report(); }
      }
    })();`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 30_000 });
  expect(r.status, r.stderr).toBe(0);
  return { ...(JSON.parse(r.stdout) as { thrown: number; received: number; inOrder: boolean }), stderr: r.stderr };
}

describe("zeromq sends as tslab makes them", () => {
  it("bare zeromq: after 512 sends in a row, the rest throw EBUSY and are lost", () => {
    const r = publish(5000, "none");
    expect(r.thrown).toBeGreaterThan(4000);
    expect(r.received).toBeLessThan(1000);
  });

  it("fixed before the publisher binds (the preload): all 20000 arrive, in order, and nothing is printed", () => {
    expect(publish(20_000, "before-bind")).toEqual({ thrown: 0, received: 20_000, inOrder: true, stderr: "" });
  });

  it("fixed after it bound (kernel-lib imported into a running kernel): the same", () => {
    expect(publish(20_000, "after-bind")).toEqual({ thrown: 0, received: 20_000, inOrder: true, stderr: "" });
  });
});

describe("a cell printing 3000 lines (real tslab kernel)", () => {
  it("kernel-lib's runner gets every line and the next cell runs", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "loud-"));
    const r = await runNotebook(path.join(fixtures, "loud.ipynb"), { writeDir: out, cellTimeoutMs: 60_000, log: () => {} });
    expect(r.failure).toBeNull();
    const text = notebookOutputText(r.written!);
    expect(linesOf(text)).toEqual(allLines);
    expect(text).toContain("the next cell ran");
    expect(text).not.toMatch(/Warning|EBUSY/);
  }, 90_000);

  it("output still streams while a cell computes: a client sees the first line before the cell ends", () => {
    // The cell prints, then spins until the client has seen that line (a file the client creates).
    const dir = mkdtempSync(path.join(tmpdir(), "live-"));
    installKernelSpecs(path.join(dir, "jupyter"));
    const cell = [
      'import * as fs from "fs";',
      'console.log("first");',
      "const t0 = Date.now();",
      "while (!fs.existsSync(process.env.HANDSHAKE!) && Date.now() - t0 < 60000) {}",
      'console.log(fs.existsSync(process.env.HANDSHAKE!) ? "the client saw the first line while the cell ran" : "the first line came only after the cell");',
    ].join("\n");
    const client = `import json, os
from jupyter_client.manager import start_new_kernel
km, kc = start_new_kernel(kernel_name="tslab")
msg_id = kc.execute(json.loads(${JSON.stringify(JSON.stringify(cell))}))
while True:
    m = kc.get_iopub_msg(timeout=120)
    if m["parent_header"].get("msg_id") != msg_id: continue
    if m["msg_type"] == "stream":
        text = m["content"]["text"]
        print(text, end="", flush=True)
        if "first" in text: open(os.environ["HANDSHAKE"], "w").close()
    if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle": break
km.shutdown_kernel(now=True)
`;
    const r = spawnSync("/usr/bin/python3", ["-c", client], {
      cwd: fixtures,
      encoding: "utf8",
      timeout: 180_000,
      env: { ...process.env, JUPYTER_PATH: path.join(dir, "jupyter"), HANDSHAKE: path.join(dir, "seen") },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("first\nthe client saw the first line while the cell ran\n");
  }, 200_000);

  describe("Jupyter (nbconvert) with a kernel registered the plain way, as `tslab install` does", () => {
    const data = mkdtempSync(path.join(tmpdir(), "plain-tslab-"));
    const tslab = findTslab(repoRoot);
    const specDir = path.join(data, "kernels", "tslab");
    mkdirSync(specDir, { recursive: true });
    writeFileSync(
      path.join(specDir, "kernel.json"),
      JSON.stringify({ argv: [process.execPath, tslab.script, "kernel", "--config-path", "{connection_file}"], display_name: "TypeScript (plain tslab)", language: "typescript" }),
    );
    const env = { ...process.env, JUPYTER_PATH: data, JUPYTER_DATA_DIR: data };

    it("without kernel-lib, output is lost (the bug these tests are about)", () => {
      const out = mkdtempSync(path.join(tmpdir(), "loud-plain-"));
      const { result, output } = executeNotebook(path.join(fixtures, "loud.ipynb"), out, env);
      expect(result.status, describeRun(result)).toBe(0);
      expect(linesOf(notebookOutputText(output)).length).toBeLessThan(1000);
    }, 120_000);

    it("once a cell imports kernel-lib, every line arrives", () => {
      const out = mkdtempSync(path.join(tmpdir(), "loud-kl-"));
      const { result, output } = executeNotebook(path.join(fixtures, "loud-kernel-lib.ipynb"), out, env);
      expect(result.status, describeRun(result)).toBe(0);
      const text = notebookOutputText(output);
      expect(text).toContain("in a kernel: true");
      expect(linesOf(text)).toEqual(allLines);
      expect(text).toContain("the next cell ran");
    }, 120_000);
  });
});
