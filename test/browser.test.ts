import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { freePorts } from "../kernel-lib/src/runner/ports";
import * as path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { Figure } from "kernel-lib";
import { installKernelSpecs, runNotebook } from "kernel-lib/runner";

// Lesson 01's plots and graph drawings in a real browser: the classic Notebook
// running every cell, the nbconvert HTML export opened offline, and a figure
// alone in a sandboxed iframe (as hosts that isolate outputs show it).
// Screenshots go to test-output/screenshots/.

const root = path.join(__dirname, "..");
const out = path.join(root, "test-output");
const shots = path.join(out, "screenshots");
const CHROMIUM = "/usr/bin/chromium";
const NOTEBOOK = ["/usr/bin/jupyter-notebook", "/usr/local/bin/jupyter-notebook"].find(existsSync);
const missing = [!existsSync(CHROMIUM) && CHROMIUM, !NOTEBOOK && "jupyter-notebook"].filter(Boolean);
const available = missing.length === 0;
if (!available) console.log(`browser tests skipped: ${missing.join(" and ")} not installed (apt-get install chromium jupyter-notebook)`);
if (!available && process.env.CI === "true") {
  it("has Chromium and the classic Notebook (required in CI)", () => {
    throw new Error(`missing in CI: ${missing.join(", ")}`);
  });
}

const LESSON = "01-automatic-differentiation.ipynb";
let browser: Browser;


/** What the page drew: Plotly figures (traces, points) and graph SVGs (nodes). */
async function drawn(page: Page): Promise<{ plots: Array<{ traces: number; points: number }>; graphs: number[]; errors: string[] }> {
  return page.evaluate(() => ({
    plots: Array.from(document.querySelectorAll(".kernel-lib-plot")).map((el) => ({
      traces: el.querySelectorAll(".scatterlayer .trace").length,
      points: el.querySelectorAll(".point").length,
    })),
    graphs: Array.from(document.querySelectorAll("svg")).filter((s) => s.querySelector("g.graph")).map((s) => s.querySelectorAll("g.node").length),
    errors: Array.from(document.querySelectorAll(".kernel-lib-plot")).map((el) => el.textContent ?? "").filter((t) => t.includes("not loaded")),
  }));
}

async function screenshotEach(page: Page, selector: string, prefix: string): Promise<void> {
  const els = await page.$$(selector);
  for (const [i, el] of els.entries()) {
    await el.scrollIntoViewIfNeeded();
    await el.screenshot({ path: path.join(shots, `${prefix}-${i}.png`) });
  }
}

/** The classic Notebook on loopback serving `dir`, with the project's kernel; stopped after fn. */
async function withNotebookServer<T>(dir: string, fn: (base: string) => Promise<T>): Promise<T> {
  const dataDir = path.join(out, "jupyter-data");
  installKernelSpecs(dataDir);
  const port = (await freePorts(1))[0];
  const token = "kernel-lib-test";
  const server: ChildProcess = spawn(
    NOTEBOOK!,
    ["--no-browser", `--port=${port}`, "--ip=127.0.0.1", `--NotebookApp.token=${token}`, `--notebook-dir=${dir}`, "--allow-root"],
    { env: { ...process.env, JUPYTER_PATH: dataDir }, stdio: "ignore" },
  );
  try {
    return await fn(`http://127.0.0.1:${port}/notebooks/%s?token=${token}`);
  } finally {
    server.kill("SIGTERM");
  }
}

async function openNotebook(page: Page, url: string): Promise<void> {
  for (let tries = 0; ; tries++) {
    try {
      await page.goto(url, { timeout: 10_000 });
      return;
    } catch (e) {
      if (tries > 30) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

describe.runIf(available)("lesson 01 in a real browser", () => {
  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });
  afterAll(async () => browser?.close());

  it("the classic Notebook runs every cell and draws every plot and graph", async () => {
    // a copy under the repository (so the kernel finds kernel-lib), never the lesson itself
    const dir = path.join(out, "browser");
    mkdirSync(dir, { recursive: true });
    copyFileSync(path.join(root, "notebooks", LESSON), path.join(dir, LESSON));
    await withNotebookServer(dir, async (base) => {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const pageErrors: string[] = [];
      page.on("pageerror", (e) => pageErrors.push(e.message));
      await openNotebook(page, base.replace("%s", LESSON));
      await page.waitForFunction(
        () => {
          const j = (window as unknown as { Jupyter?: { notebook?: { kernel?: { is_connected(): boolean } } } }).Jupyter;
          return j?.notebook?.kernel?.is_connected() === true;
        },
        null,
        { timeout: 60_000 },
      );
      const kernelName = await page.evaluate(() => {
        const nb = (window as unknown as { Jupyter: { notebook: { set_autosave_interval(n: number): void; kernel: { name: string }; execute_all_cells(): void } } }).Jupyter.notebook;
        nb.set_autosave_interval(0);
        nb.execute_all_cells();
        return nb.kernel.name;
      });
      expect(kernelName).toBe("tslab");
      await page.waitForFunction(
        () => {
          const nb = (window as unknown as { Jupyter: { notebook: { get_cells(): Array<{ cell_type: string; input_prompt_number: unknown }> } } }).Jupyter.notebook;
          return nb.get_cells().every((c) => c.cell_type !== "code" || (typeof c.input_prompt_number === "number"));
        },
        null,
        { timeout: 240_000, polling: 500 },
      );
      await page.waitForTimeout(1500);
      const stderr = await page.evaluate(() => Array.from(document.querySelectorAll(".output_stderr, .output_error")).map((e) => e.textContent));
      expect(stderr).toEqual([]);
      const result = await drawn(page);
      await screenshotEach(page, ".kernel-lib-plot", "notebook-plot");
      await page.screenshot({ path: path.join(shots, "notebook-last-screen.png") });
      expect(result.errors).toEqual([]);
      expect(result.plots.length).toBe(3); // data, fit, tensor fit
      for (const p of result.plots) expect(p.points).toBeGreaterThanOrEqual(101);
      expect(result.plots.map((p) => p.traces)).toEqual([1, 2, 2]);
      expect(result.graphs.filter((n) => n === 8).length).toBeGreaterThanOrEqual(2); // MSE graph before and after backward
      expect(pageErrors).toEqual([]);
      // where scripts run, the static copies give way to the live figures and the SVG drawings
      expect(await page.evaluate(() => document.querySelectorAll(".kernel-lib-static").length)).toBe(0);
      await page.close();
    });
  }, 300_000);

  it("the nbconvert HTML export draws the same offline, from file://", async () => {
    const dir = path.join(out, "export");
    const r = await runNotebook(path.join(root, "notebooks", LESSON), { writeDir: dir, log: () => {} });
    expect(r.passed).toBe(true);
    await new Promise<void>((resolve, reject) =>
      execFile("/usr/bin/jupyter", ["nbconvert", "--to", "html", r.written!, "--output-dir", dir], (err, _o, stderr) => (err ? reject(new Error(stderr)) : resolve())),
    );
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.route(/^https?:/, (route) => route.abort()); // offline: nothing but the file itself
    await page.goto(`file://${path.join(dir, LESSON.replace(".ipynb", ".html"))}`);
    await page.waitForTimeout(3000);
    const result = await drawn(page);
    await screenshotEach(page, ".kernel-lib-plot", "export-plot");
    expect(result.errors).toEqual([]);
    expect(result.plots.map((p) => p.traces)).toEqual([1, 2, 2]);
    for (const p of result.plots) expect(p.points).toBeGreaterThanOrEqual(101);
    expect(result.graphs.filter((n) => n === 8).length).toBeGreaterThanOrEqual(2);
    await page.close();
  }, 300_000);

  it("reopened untrusted, the executed lesson shows the static pictures instead of blanks", async () => {
    // the runner's output is not signed by this server, so the Notebook treats it as untrusted
    const dir = path.join(out, "untrusted");
    mkdirSync(dir, { recursive: true });
    copyFileSync(path.join(out, "export", LESSON), path.join(dir, LESSON));
    await withNotebookServer(dir, async (base) => {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      await openNotebook(page, base.replace("%s", LESSON));
      // the Notebook shows untrusted HTML sanitised (no scripts) and PNG as it is
      const pictures = ".output_area img";
      await page.waitForFunction((sel) => document.querySelectorAll(sel).length >= 6, pictures, { timeout: 60_000 });
      await page.waitForTimeout(1000);
      const seen = await page.evaluate((sel) => ({
        trusted: (window as unknown as { Jupyter: { notebook: { trusted: boolean } } }).Jupyter.notebook.trusted,
        pngs: Array.from(document.querySelectorAll(sel)).map((img) => (img as HTMLImageElement).naturalWidth),
        plotsDrawn: document.querySelectorAll(".kernel-lib-plot .point").length,
      }), pictures);
      await screenshotEach(page, pictures, "untrusted-picture");
      expect(seen.trusted).toBe(false);
      expect(seen.plotsDrawn).toBe(0); // no scripts ran
      // three figures, two graph drawings and the final live loss curve, each a real picture
      expect(seen.pngs.length).toBe(6);
      for (const w of seen.pngs) expect(w).toBeGreaterThan(300);
      await page.close();
    });
  }, 300_000);

  it("a student works through an exercise of lesson 03's student version", async () => {
    // student/ is written by the build (npm test builds first)
    const STUDENT = "03-backprop-from-scratch.ipynb";
    const source = path.join(root, "student", STUDENT);
    expect(existsSync(source), `${source} is missing: run npm run student`).toBe(true);
    const dir = path.join(out, "browser-student");
    mkdirSync(dir, { recursive: true });
    copyFileSync(source, path.join(dir, STUDENT));
    type Nb = {
      ncells(): number;
      get_cell(i: number): { cell_type: string; input_prompt_number: unknown; get_text(): string; set_text(t: string): void; execute(): void; element: ArrayLike<HTMLElement> };
      kernel?: { is_connected(): boolean };
      set_autosave_interval(n: number): void;
    };
    await withNotebookServer(dir, async (base) => {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      await openNotebook(page, base.replace("%s", STUDENT));
      await page.waitForFunction(() => (window as unknown as { Jupyter?: { notebook?: Nb } }).Jupyter?.notebook?.kernel?.is_connected() === true, null, { timeout: 60_000 });
      /** Run cell i (after replacing its text), as shift-enter does, and return what it printed and its error output. */
      const run = async (i: number, text?: string): Promise<{ stdout: string; stderr: string; error: string }> => {
        await page.evaluate(
          ([i, text]) => {
            const nb = (window as unknown as { Jupyter: { notebook: Nb } }).Jupyter.notebook;
            nb.set_autosave_interval(0);
            const cell = nb.get_cell(i as number);
            if (text !== null) cell.set_text(text as string);
            cell.execute();
          },
          [i, text ?? null],
        );
        await page.waitForFunction((i) => (window as unknown as { Jupyter: { notebook: Nb } }).Jupyter.notebook.get_cell(i).input_prompt_number !== "*", i, { timeout: 60_000, polling: 200 });
        await page.waitForTimeout(300);
        return page.evaluate((i) => {
          const el = (window as unknown as { Jupyter: { notebook: Nb } }).Jupyter.notebook.get_cell(i).element[0];
          const text = (sel: string) => Array.from(el.querySelectorAll(sel)).map((e) => e.textContent ?? "").join("");
          return { stdout: text(".output_stdout"), stderr: text(".output_stderr"), error: text(".output_error") };
        }, i);
      };
      const cells = await page.evaluate(() => {
        const nb = (window as unknown as { Jupyter: { notebook: Nb } }).Jupyter.notebook;
        return Array.from({ length: nb.ncells() }, (_, i) => ({ type: nb.get_cell(i).cell_type, text: nb.get_cell(i).get_text() }));
      });
      const exercise = cells.findIndex((c) => c.text.includes("// TODO: set localGrads"));
      const checkCell = exercise + 1;
      expect(exercise).toBeGreaterThan(0);
      expect(cells[checkCell].text).toContain('check("the local gradients of 3 · 4"');
      // The student runs the lesson in order up to the exercise: everything before it works.
      for (let i = 0; i < exercise; i++) {
        if (cells[i].type !== "code") continue;
        const r = await run(i);
        expect(r.stderr + r.error, `cell ${i} of the student version failed:\n${cells[i].text}`).toBe("");
      }
      // The open TODO says what to do, and so does its check: both as the Notebook's error output.
      expect((await run(exercise)).error).toContain("Error: TODO: set localGrads to [d(this·o)/d(this), d(this·o)/d(o)]");
      const open = await run(checkCell);
      expect(open.stderr).toBe("");
      expect(open.error.trim()).toMatch(/^✗ the local gradients of 3 · 4: not done yet\. The code it runs still has an open TODO: set localGrads/);
      // A wrong answer: the check names what is wrong and hints, with no stack trace.
      const todo = /\s*\/\/ TODO: set localGrads.*\n\s*throw new Error\(.*\);/;
      expect(cells[exercise].text).toMatch(todo);
      expect((await run(exercise, cells[exercise].text.replace(todo, "\n  localGrads = [this.data, o.data];"))).error).toBe("");
      const wrong = await run(checkCell);
      await (await page.$$(".cell"))[checkCell].screenshot({ path: path.join(shots, "student-check-wrong.png") });
      expect(wrong.error.trim()).toBe(
        "✗ the local gradients of 3 · 4: expected 4 at [0], got 3.\n  Hint: the first entry belongs to `this`, the second to `o`; for a product, each one is the *other* factor's value",
      );
      // The right answer.
      expect((await run(exercise, cells[exercise].text.replace(todo, "\n  localGrads = [o.data, this.data];"))).error).toBe("");
      const right = await run(checkCell);
      await (await page.$$(".cell"))[checkCell].screenshot({ path: path.join(shots, "student-check-right.png") });
      expect(right.stderr + right.error).toBe("");
      expect(right.stdout).toBe("✓ the local gradients of 3 · 4: correct ([4, 3])\n✓ the local gradients of 0 · 5: correct ([5, 0])\n");
      await page.close();
    });
  }, 300_000);

  it("a figure alone in a sandboxed iframe (output isolation) draws when it carries plotly.js", async () => {
    const fig = new Figure({ title: "isolated" }).scatter([1, 2, 3], [3, 1, 2], { name: "pts" });
    const frame = (html: string) => `<iframe sandbox="allow-scripts" style="width:700px;height:460px" srcdoc="${html.replace(/&/g, "&amp;").replace(/"/g, "&quot;")}"></iframe>`;
    const file = path.join(out, "isolated.html");
    writeFileSync(file, `<!doctype html><body>${frame(fig.toHTML(true))}${frame(fig.toHTML(false))}</body>`);
    const page = await browser.newPage({ viewport: { width: 800, height: 1000 } });
    await page.goto(`file://${file}`);
    await page.waitForTimeout(8000);
    const frames = page.frames().filter((f) => f !== page.mainFrame());
    expect(frames.length).toBe(2);
    const [carried, bare] = await Promise.all(frames.map((f) => f.evaluate(() => ({
      points: document.querySelectorAll(".kernel-lib-plot .point").length,
      text: document.querySelector(".kernel-lib-plot")?.textContent ?? "",
    }))));
    await page.screenshot({ path: path.join(shots, "isolated-iframes.png") });
    expect(carried.points).toBe(3);
    // without the library the output says what to do instead of staying blank
    expect(bare.points).toBe(0);
    expect(bare.text).toContain("plotly.js is not loaded in this page");
    await page.close();
  }, 60_000);

  it("lesson 03's step-through drawing steps through the backward pass, and shows the strip without scripts", async () => {
    const r = await runNotebook(path.join(root, "notebooks", "03-backprop-from-scratch.ipynb"), { writeDir: path.join(out, "steps"), log: () => {} });
    expect(r.passed).toBe(true);
    const nb = JSON.parse(readFileSync(r.written!, "utf8")) as { cells: Array<{ id?: string; outputs?: Array<{ data?: Record<string, string> }> }> };
    const html = nb.cells.find((c) => c.id === "cell-35-steps")!.outputs![0].data!["text/html"];
    const file = path.join(out, "steps.html");
    writeFileSync(file, `<!doctype html><body>${html}</body>`);
    const page = await browser.newPage({ viewport: { width: 900, height: 420 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`file://${file}`);
    const state = () =>
      page.evaluate(() => ({
        count: document.querySelector(".kl-count")?.textContent,
        caption: document.querySelector(".kl-caption")?.textContent,
        nodes: document.querySelectorAll(".kl-frame g.node").length,
        active: Array.from(document.querySelectorAll(".kl-frame g.node path")).filter((p) => p.getAttribute("stroke") === "#d62728").length,
        statics: document.querySelectorAll(".kernel-lib-static").length,
      }));
    expect(await state()).toEqual({ count: "1 / 4", caption: "The seed: ∂L/∂L = 1.", nodes: 5, active: 1, statics: 0 });
    await page.click('button[data-go="next"]');
    await page.click('button[data-go="next"]');
    const second = await state();
    expect(second.count).toBe("3 / 4");
    expect(second.caption).toBe("Step 2 of 3: c passes its gradient 1 on, times each local derivative: 3 × 1 = 3 to a; 2 × 1 = 2 to the constant 3.");
    await page.screenshot({ path: path.join(shots, "steps-player.png") });
    await page.click('button[data-go="last"]');
    expect((await state()).count).toBe("4 / 4");
    expect(await page.evaluate(() => document.querySelector(".kl-frame")?.textContent)).toContain("grad 3 + 4 = 7");
    await page.click('button[data-go="first"]');
    expect((await state()).count).toBe("1 / 4");
    expect(pageErrors).toEqual([]);
    await page.close();
    // no scripts (an untrusted notebook, a preview): the strip of all the steps, as one picture
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 900, height: 1400 } });
    const still = await context.newPage();
    await still.goto(`file://${file}`);
    const img = await still.evaluate(() => {
      const i = document.querySelector<HTMLImageElement>(".kernel-lib-steps img.kernel-lib-static");
      return i ? { w: i.naturalWidth, h: i.naturalHeight } : null;
    });
    await still.screenshot({ path: path.join(shots, "steps-strip.png") });
    expect(img).not.toBeNull();
    expect(img!.w).toBeGreaterThan(400);
    expect(img!.h).toBeGreaterThan(4 * 150); // four frames, one under the other
    await context.close();
  }, 120_000);
});

