import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import * as path from "node:path";
import { build } from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import { runNotebook, type NotebookResult } from "kernel-lib/runner";

// The executed lessons as a stock JupyterLab 4 shows them (no plotly
// extension): test/jupyterlab/page.ts renders each code cell's saved outputs
// with JupyterLab's own RenderMimeRegistry (standard renderers, default
// Sanitizer) and OutputArea, trusted and untrusted, in Debian's Chromium.
// The page is bundled with esbuild at test time into test-output/jupyterlab/.
// Screenshots go to test-output/screenshots/jupyterlab-*.png.

const root = path.join(__dirname, "..");
const out = path.join(root, "test-output", "jupyterlab");
const shots = path.join(root, "test-output", "screenshots");
const CHROMIUM = "/usr/bin/chromium";
const available = existsSync(CHROMIUM);
if (!available) console.log(`JupyterLab output tests skipped: ${CHROMIUM} not installed (apt-get install chromium)`);
if (!available && process.env.CI === "true") {
  it("has Chromium (required in CI)", () => {
    throw new Error(`missing in CI: ${CHROMIUM}`);
  });
}

const lessonsDir = path.join(root, "notebooks");
const LESSONS = readdirSync(lessonsDir).filter((f) => f.endsWith(".ipynb")).sort();
const FIXTURE = path.join(__dirname, "fixtures", "notebooks", "jupyterlab-error.ipynb");
const NOTEBOOKS = [...LESSONS.map((f) => path.join(lessonsDir, f)), FIXTURE];

// ---------------------------------------------------------------------------
// What the notebook JSON says should be on screen

type Output = { output_type: string; data?: Record<string, unknown>; ename?: string; evalue?: string; traceback?: string[] };
type Nb = { cells: Array<{ cell_type: string; outputs?: Output[] }> };
const PLOTLY = "application/vnd.plotly.v1+json";

interface Expected {
  figures: Array<{ at: string; traces: number; markerPoints: number; lineTraces: number; png: string | null }>;
  graphs: Array<{ at: string; nodes: number }>;
  /** drawGraph(y, { steps: true }): the step-through player, its first frame's node count. */
  steps: Array<{ at: string; nodes: number }>;
  /** plot.liveLoss() outputs: their final bundle. */
  live: Array<{ at: string; text: string; svg: string; png: string | null }>;
  errors: Array<{ at: string; ename: string; evalue: string }>;
  /** Every output, for "nothing is blank". */
  all: string[];
}

function expected(nb: Nb): Expected {
  const e: Expected = { figures: [], graphs: [], steps: [], live: [], errors: [], all: [] };
  nb.cells.forEach((cell, c) => {
    if (cell.cell_type !== "code") return;
    (cell.outputs ?? []).forEach((o, i) => {
      const at = `${c}/${i}`;
      e.all.push(at);
      if (o.output_type === "error") e.errors.push({ at, ename: o.ename!, evalue: o.evalue! });
      const d = o.data;
      if (!d) return;
      const svg = typeof d["image/svg+xml"] === "string" ? (d["image/svg+xml"] as string) : "";
      if (d[PLOTLY]) {
        // (the page counts scatter traces; a contour is drawn in a layer of its own)
        const fig = d[PLOTLY] as { data: Array<{ type?: string; mode?: string; x: number[] }> };
        const scatter = fig.data.filter((t) => (t.type ?? "scatter") === "scatter");
        const markerPoints = scatter.filter((t) => (t.mode ?? "markers").includes("markers")).reduce((n, t) => n + t.x.length, 0);
        const lineTraces = scatter.filter((t) => (t.mode ?? "markers").includes("lines")).length;
        e.figures.push({ at, traces: scatter.length, markerPoints, lineTraces, png: typeof d["image/png"] === "string" ? (d["image/png"] as string) : null });
      } else if (/^the backward pass in \d+ steps?:/.test(String(d["text/plain"]))) {
        const frames = JSON.parse(String(d["text/html"]).match(/<script type="text\/plain" id="[^"]+-frames">([^]*?)<\/script>/)![1]) as Array<{ svg: string }>;
        e.steps.push({ at, nodes: (frames[0].svg.match(/class="node"/g) ?? []).length });
      } else if (svg.includes('class="graph"')) {
        e.graphs.push({ at, nodes: (svg.match(/class="node"/g) ?? []).length });
      } else if (svg && !d["text/html"] && /^step \d+: loss /.test(String(d["text/plain"]))) {
        e.live.push({ at, text: String(d["text/plain"]), svg, png: typeof d["image/png"] === "string" ? (d["image/png"] as string) : null });
      }
    });
  });
  return e;
}

// ---------------------------------------------------------------------------
// What the page shows

interface Picture {
  tag: string;
  width: number;
  height: number;
  naturalWidth: number;
  naturalHeight: number;
  /** Share of the picture's pixels that are not white or transparent (-1: could not be read). */
  ink: number;
  src: string;
}
interface Seen {
  at: string;
  outputType: string;
  /** The mime type JupyterLab chose (data-mime-type of the rendered widget). */
  mime: string | null;
  height: number;
  text: string;
  background: string;
  plot: { drawn: number; mainSvgs: number; traces: number; points: number; lines: number; staticLeft: number } | null;
  graphNodes: number;
  pictures: Picture[];
}

async function seen(page: Page): Promise<Seen[]> {
  return page.evaluate(async () => {
    function ink(img: HTMLImageElement): number {
      const w = Math.min(img.naturalWidth, 2000);
      const h = Math.min(img.naturalHeight, 2000);
      if (!w || !h) return 0;
      try {
        const canvas = document.createElement("canvas");
        canvas.width = w;
        canvas.height = h;
        const ctx = canvas.getContext("2d")!;
        ctx.drawImage(img, 0, 0, w, h);
        const px = ctx.getImageData(0, 0, w, h).data;
        let n = 0;
        for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 16 && (px[i] < 235 || px[i + 1] < 235 || px[i + 2] < 235)) n++;
        return n / (w * h);
      } catch {
        return -1;
      }
    }
    const visible = (el: Element) => {
      const r = el.getBoundingClientRect();
      const s = getComputedStyle(el);
      return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none";
    };
    return Array.from(document.querySelectorAll<HTMLElement>(".jp-OutputArea-child[data-cell]")).map((child) => {
      const rendered = child.querySelector<HTMLElement>(".jp-OutputArea-output");
      const plots = Array.from(child.querySelectorAll(".kernel-lib-plot"));
      const pictures = Array.from(child.querySelectorAll<HTMLImageElement>("img"))
        .filter(visible)
        .map((img) => ({
          tag: "img",
          width: img.getBoundingClientRect().width,
          height: img.getBoundingClientRect().height,
          naturalWidth: img.naturalWidth,
          naturalHeight: img.naturalHeight,
          ink: ink(img),
          src: img.src,
        }));
      return {
        at: `${child.dataset.cell}/${child.dataset.output}`,
        outputType: child.dataset.outputType ?? "",
        mime: rendered?.dataset.mimeType ?? null,
        height: child.getBoundingClientRect().height,
        text: (rendered?.innerText ?? "").trim(),
        background: rendered ? getComputedStyle(rendered).backgroundColor : "",
        plot: plots.length
          ? {
              drawn: child.querySelectorAll(".js-plotly-plot").length,
              mainSvgs: Array.from(child.querySelectorAll(".js-plotly-plot .main-svg")).filter(visible).length,
              traces: child.querySelectorAll(".js-plotly-plot .scatterlayer .trace").length,
              points: child.querySelectorAll(".js-plotly-plot .scatterlayer .point").length,
              lines: child.querySelectorAll(".js-plotly-plot .scatterlayer path.js-line").length,
              staticLeft: child.querySelectorAll(".kernel-lib-plot img.kernel-lib-static").length,
            }
          : null,
        graphNodes: Array.from(child.querySelectorAll("svg"))
          .filter((s) => s.querySelector("g.graph") && visible(s))
          .reduce((n, s) => n + s.querySelectorAll("g.node").length, 0),
        pictures,
      };
    });
  });
}

// ---------------------------------------------------------------------------
// Bundle, server, browser

let browser: Browser;
let server: Server;
let base = "";
const executed = new Map<string, NotebookResult>();
const blocked: string[] = [];

async function bundlePage(dir: string): Promise<void> {
  await build({
    entryPoints: [path.join(__dirname, "jupyterlab", "page.ts")],
    bundle: true,
    outdir: dir,
    format: "iife",
    platform: "browser",
    target: "chrome110",
    loader: { ".svg": "dataurl", ".png": "dataurl", ".gif": "dataurl", ".woff": "dataurl", ".woff2": "dataurl", ".ttf": "dataurl", ".eot": "dataurl" },
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "error",
  });
}

const INDEX = `<!doctype html>
<html><head><meta charset="utf-8"><title>JupyterLab output areas</title><link rel="stylesheet" href="/page.css"></head>
<body><div id="notebook"></div><script src="/page.js"></script></body></html>`;

function serve(bundleDir: string, notebooksDir: string): Promise<string> {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const file =
      url.pathname === "/" ? null
      : url.pathname === "/page.js" || url.pathname === "/page.css" ? path.join(bundleDir, url.pathname.slice(1))
      : url.pathname.startsWith("/notebooks/") ? path.join(notebooksDir, path.basename(decodeURIComponent(url.pathname)))
      : undefined;
    if (file === null) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(INDEX);
    } else if (file && existsSync(file)) {
      const type = file.endsWith(".js") ? "text/javascript" : file.endsWith(".css") ? "text/css" : "application/json";
      res.writeHead(200, { "content-type": `${type}; charset=utf-8` }).end(readFileSync(file));
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`)));
}

/** Run the notebooks two at a time (a kernel uses one core while a cell computes). */
async function runAll(paths: string[], writeDir: string): Promise<void> {
  const queue = [...paths];
  await Promise.all(
    [0, 1].map(async () => {
      for (let p = queue.shift(); p; p = queue.shift()) executed.set(path.basename(p), await runNotebook(p, { writeDir, log: () => {} }));
    }),
  );
}

interface Rendered {
  nb: Nb;
  want: Expected;
  got: Map<string, Seen>;
  pageErrors: string[];
  summary: { cells: number; outputs: number; failures: string[] };
  page: Page;
}

async function render(name: string, trusted: boolean): Promise<Rendered> {
  const nb = JSON.parse(readFileSync(path.join(out, "executed", name), "utf8")) as Nb;
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  // offline: nothing but the test server
  await page.route((url) => !url.href.startsWith(base + "/"), (route) => {
    blocked.push(route.request().url());
    return route.abort();
  });
  await page.goto(`${base}/`);
  const summary = await page.evaluate(
    async ([url, trusted]) => {
      const nb = await (await fetch(url as string)).json();
      const w = window as unknown as { renderNotebook(nb: unknown, o: { trusted: boolean }): Promise<{ cells: number; outputs: number; failures: string[] }> };
      return w.renderNotebook(nb, { trusted: trusted as boolean });
    },
    [`${base}/notebooks/${encodeURIComponent(name)}`, trusted] as const,
  );
  const got = new Map((await seen(page)).map((s) => [s.at, s]));
  await page.screenshot({ path: path.join(shots, `jupyterlab-${name.replace(/\.ipynb$/, "")}-${trusted ? "trusted" : "untrusted"}.png`), fullPage: true });
  return { nb, want: expected(nb), got, pageErrors, summary, page };
}

/** Checks common to both modes: every output shows something, graphs and the live loss curve show, errors look like errors. */
function checkCommon(r: Rendered, trusted: boolean): void {
  const { want, got } = r;
  expect(r.summary.failures).toEqual([]);
  expect(r.pageErrors).toEqual([]);
  expect(r.summary.outputs).toBe(want.all.length);
  expect([...got.keys()].sort()).toEqual([...want.all].sort());
  for (const at of want.all) {
    const s = got.get(at)!;
    expect(s.mime, `output ${at} was not rendered`).not.toBeNull();
    expect(s.height, `output ${at} is blank`).toBeGreaterThan(5);
    expect(s.text, `output ${at}`).not.toMatch(/not loaded|Cannot display an untrusted SVG/);
  }
  for (const g of want.graphs) {
    const s = got.get(g.at)!;
    expect(s.mime, `graph ${g.at}`).toBe("text/html");
    if (trusted) {
      // the Graphviz SVG itself, and the PNG copy removed by the output's script
      expect(s.graphNodes, `graph ${g.at}`).toBe(g.nodes);
      expect(s.pictures, `graph ${g.at}: static copy left beside the SVG`).toEqual([]);
    } else {
      // the sanitiser drops the SVG (and the script): the PNG copy is what shows
      expect(s.pictures.length, `graph ${g.at}`).toBe(1);
      expect(s.pictures[0].naturalWidth).toBeGreaterThan(100);
      expect(s.pictures[0].ink, `graph ${g.at}: blank picture`).toBeGreaterThan(0.02);
      // nothing but the picture: no loose labels from a sanitised SVG
      expect(s.text, `graph ${g.at}: text beside the picture`).toBe("");
    }
  }
  for (const g of want.steps) {
    const s = got.get(g.at)!;
    expect(s.mime, `steps ${g.at}`).toBe("text/html");
    if (trusted) {
      // the player: its first frame, drawn, and the strip's PNG replaced
      expect(s.graphNodes, `steps ${g.at}`).toBe(g.nodes);
      expect(s.pictures, `steps ${g.at}: static strip left beside the player`).toEqual([]);
      expect(s.text, `steps ${g.at}`).toContain("The seed:");
    } else {
      // no script: the strip of every step, one picture
      expect(s.pictures.length, `steps ${g.at}`).toBe(1);
      expect(s.pictures[0].naturalHeight, `steps ${g.at}`).toBeGreaterThan(s.pictures[0].naturalWidth / 2);
      expect(s.pictures[0].ink, `steps ${g.at}: blank picture`).toBeGreaterThan(0.02);
      expect(s.text, `steps ${g.at}: text beside the picture`).toBe("");
    }
  }
  for (const l of want.live) {
    const s = got.get(l.at)!;
    // done() was called: the final state carries the PNG copy, and its title names the last step
    expect(l.png, `live loss ${l.at} saved without its final PNG`).not.toBeNull();
    expect(l.svg).toContain(`(${l.text.replace(/&/g, "&amp;")})`);
    expect(s.mime).toBe(trusted ? "image/svg+xml" : "image/png");
    expect(s.pictures.length, `live loss ${l.at}`).toBe(1);
    const pic = s.pictures[0];
    expect(pic.width).toBeGreaterThan(300);
    expect(pic.ink, `live loss ${l.at}: blank picture`).toBeGreaterThan(0.02);
    const shown = trusted ? decodeURIComponent(pic.src.replace(/^data:image\/svg\+xml,/, "")) : pic.src.replace(/^data:image\/png;base64,/, "");
    if (trusted) expect(shown).toContain(l.text);
    else expect(shown).toBe(l.png);
  }
  for (const e of want.errors) {
    const s = got.get(e.at)!;
    expect(s.outputType).toBe("error");
    expect(s.mime, `error ${e.at}`).toBe("application/vnd.jupyter.stderr");
    expect(s.text).toContain(e.evalue);
    expect(s.background, `error ${e.at}: not on JupyterLab's error background`).toBe("rgb(255, 221, 221)");
  }
}

describe.runIf(available)("executed lessons in JupyterLab 4's output area (no plotly extension)", () => {
  beforeAll(async () => {
    rmSync(out, { recursive: true, force: true });
    mkdirSync(shots, { recursive: true });
    const [, url] = await Promise.all([runAll(NOTEBOOKS, path.join(out, "executed")), bundlePage(path.join(out, "bundle")).then(() => serve(path.join(out, "bundle"), path.join(out, "executed")))]);
    base = url;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
  });

  it.each(LESSONS)("%s executes", (name) => {
    const r = executed.get(name)!;
    expect(r.failure?.message ?? null, `${name} failed at cell ${r.failure?.cell}`).toBeNull();
    expect(r.passed).toBe(true);
  });

  it.each(LESSONS)("%s, trusted: figures drawn by plotly.js, graphs as SVG, the final loss curve", async (name) => {
    const r = await render(name, true);
    try {
      checkCommon(r, true);
      for (const f of r.want.figures) {
        const s = r.got.get(f.at)!;
        expect(s.mime, `figure ${f.at}`).toBe("text/html");
        expect(s.plot, `figure ${f.at}`).not.toBeNull();
        expect(s.plot!.drawn, `figure ${f.at} not drawn`).toBe(1);
        expect(s.plot!.mainSvgs).toBeGreaterThan(0);
        expect(s.plot!.traces, `figure ${f.at}`).toBe(f.traces);
        expect(s.plot!.points, `figure ${f.at}`).toBe(f.markerPoints);
        expect(s.plot!.lines, `figure ${f.at}`).toBe(f.lineTraces);
        expect(s.plot!.staticLeft, `figure ${f.at}: static picture left under the figure`).toBe(0);
      }
      // as many drawn figures and graph drawings on the page as the notebook holds, no more
      const all = [...r.got.values()];
      expect(all.filter((s) => s.plot?.drawn).length).toBe(r.want.figures.length);
      expect(all.filter((s) => s.graphNodes > 0).length).toBe(r.want.graphs.length + r.want.steps.length);
      expect(blocked).toEqual([]);
    } finally {
      await r.page.close();
    }
  }, 60_000);

  it.each(LESSONS)("%s, untrusted: the static pictures show, nothing blank", async (name) => {
    const r = await render(name, false);
    try {
      checkCommon(r, false);
      for (const f of r.want.figures) {
        const s = r.got.get(f.at)!;
        expect(s.mime, `figure ${f.at}`).toBe("text/html"); // sanitised: no script runs
        expect(s.plot!.drawn, `figure ${f.at}`).toBe(0);
        expect(s.pictures.length, `figure ${f.at}: its static picture`).toBe(1);
        expect(s.pictures[0].naturalWidth).toBeGreaterThan(300);
        expect(s.pictures[0].width).toBeGreaterThan(300);
        expect(s.pictures[0].ink, `figure ${f.at}: blank picture`).toBeGreaterThan(0.02);
        expect(s.pictures[0].src, `figure ${f.at}: not the bundle's PNG`).toBe(`data:image/png;base64,${f.png}`);
        expect(s.text, `figure ${f.at}`).toBe("");
      }
      const all = [...r.got.values()];
      expect(all.filter((s) => s.plot?.drawn).length).toBe(0);
      expect(all.filter((s) => s.plot).length).toBe(r.want.figures.length);
      expect(blocked).toEqual([]);
    } finally {
      await r.page.close();
    }
  }, 60_000);

  it.each([true, false])("errors render as JupyterLab errors (trusted: %s)", async (trusted) => {
    const name = path.basename(FIXTURE);
    const run = executed.get(name)!;
    expect(run.passed).toBe(true); // both failing cells are tagged raises-exception
    const r = await render(name, trusted);
    try {
      checkCommon(r, trusted);
      expect(r.want.errors.map((e) => e.ename)).toEqual(["Error", "TS2322"]);
      const errors = r.want.errors.map((e) => r.got.get(e.at)!);
      expect(errors[0].text).toContain("Error: gradient exploded at step 3");
      expect(errors[0].text).toContain("at train");
      expect(errors[1].text).toContain("TS2322");
      expect(errors[1].text).toContain("Type 'string' is not assignable to type 'number'.");
      // the cells around them print as usual
      const stdout = [...r.got.values()].filter((s) => s.outputType === "stream").map((s) => [s.mime, s.text]);
      expect(stdout).toEqual([
        ["application/vnd.jupyter.stdout", "before the errors"],
        ["application/vnd.jupyter.stdout", "after the errors"],
      ]);
      if (trusted) {
        const boxes = await r.page.$$eval(".jp-OutputArea-child[data-output-type='error']", (els) => els.map((e) => e.getBoundingClientRect().toJSON() as DOMRect));
        const x = Math.max(0, Math.min(...boxes.map((b) => b.x)) - 8);
        const y = Math.max(0, Math.min(...boxes.map((b) => b.y)) - 8);
        const clip = { x, y, width: Math.max(...boxes.map((b) => b.right)) + 8 - x, height: Math.max(...boxes.map((b) => b.bottom)) + 8 - y };
        await r.page.screenshot({ path: path.join(shots, "jupyterlab-errors.png"), clip });
      }
    } finally {
      await r.page.close();
    }
  }, 60_000);
});
