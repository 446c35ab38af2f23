import { describe, expect, it } from "vitest";
import { readFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { Figure, plot, Variable, display, tensor } from "kernel-lib";
import { runNotebook } from "kernel-lib/runner";

describe("Figure", () => {
  it("builds Plotly JSON with traces, labels and title", () => {
    const fig = new Figure({ title: "Fit", xLabel: "x", yLabel: "y" })
      .scatter([new Variable(1), new Variable(2)], [3, 4], { name: "data" })
      .line([1, 2], [3.5, 4.5], { name: "model", color: "black" });
    const { data, layout } = fig.toJSON();
    expect(data).toEqual([
      { type: "scatter", mode: "markers", x: [1, 2], y: [3, 4], name: "data" },
      { type: "scatter", mode: "lines", x: [1, 2], y: [3.5, 4.5], name: "model", line: { color: "black" } },
    ]);
    expect(layout).toMatchObject({ title: { text: "Fit" }, xaxis: { title: { text: "x" } }, yaxis: { title: { text: "y" } }, showlegend: true });
    expect(String(fig)).toBe('Figure "Fit": scatter of 2 points, line of 2 points');
  });

  it("inlines plotly.js only when asked, and escapes the figure JSON", () => {
    const fig = new Figure({ title: "</script><b>x</b>" }).scatter([1], [2]);
    const bare = fig.toHTML(false);
    expect(bare.length).toBeLessThan(5000);
    expect(bare).not.toContain("</script><b>");
    expect(bare).toContain("window.Plotly.newPlot");
    // the figure's script is valid JavaScript (a stray quote once blanked every figure)
    const script = bare.match(/<script type="text\/javascript">([^]*)<\/script>/)![1];
    expect(() => new Function(script)).not.toThrow();
    const full = fig.toHTML(true);
    expect(full.length).toBeGreaterThan(4_000_000);
    expect(full).toContain("plotly.js v4.1.2");
  });

  it("renders a static SVG with round ticks, labels and a legend", () => {
    const svg = new Figure({ title: "T", xLabel: "x", yLabel: "y" }).scatter([0, 1, 2], [0, 5, 10], { name: "pts" }).toSVG();
    expect(svg).toContain(">T</text>");
    expect(svg).toContain(">pts</text>");
    for (const tick of [">0</text>", ">0.5</text>", ">2</text>", ">10</text>"]) expect(svg).toContain(tick);
    expect(svg.match(/<circle cx/g)).toHaveLength(4);
  });

  it("mode self-contained puts plotly.js in every figure; a bad mode is refused", () => {
    expect(() => plot.config({ mode: "always" as "once" })).toThrow('plot.config: mode must be "auto", "once" or "self-contained", got "always"');
  });

  it("takes tensors", () => {
    const fig = new Figure().line(tensor([1, 2, 3]), tensor([[4, 5, 6]]));
    expect(fig.toJSON().data[0]).toMatchObject({ x: [1, 2, 3], y: [4, 5, 6] });
  });

  it("rejects mismatched lengths and non-finite values", () => {
    expect(() => new Figure().scatter([1, 2], [1])).toThrow("plot: x has 2 values but y has 1");
    expect(() => new Figure().line([1, NaN], [1, 2])).toThrow("plot: x[1] is NaN; every value must be a finite number");
  });

  it("prints a text summary outside a kernel", () => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (s: string) => lines.push(s);
    try {
      plot.scatter([1, 2], [3, 4], { title: "T" });
      expect(display({ "text/plain": "hello" })).toBe(false);
    } finally {
      console.log = log;
    }
    expect(lines).toEqual(['Figure "T": scatter of 2 points', "hello"]);
  });
});

describe("element ids of HTML outputs", () => {
  // each child process is a kernel; Jupyter's server (and kernel-lib-run) name the notebook in JPY_SESSION_NAME
  const ids = (session?: string) => {
    const program = 'const { Figure } = require("kernel-lib"); const f = new Figure().line([1, 2], [3, 4]); console.log([f.toHTML(false), f.toHTML(false)].map((h) => /id="([^"]+)"/.exec(h)[1]).join(" "));';
    const env = { ...process.env };
    delete env.JPY_SESSION_NAME;
    if (session) env.JPY_SESSION_NAME = session;
    return execFileSync(process.execPath, ["-e", program], { env, encoding: "utf8" }).trim().split(" ");
  };
  it("are the same on every run of a notebook, differ between notebooks, and are random elsewhere", () => {
    const a = ids("01-lesson.ipynb");
    expect(a[0]).toMatch(/^kernel-lib-plot-[0-9a-f]{10}-1$/);
    expect(a[1]).toBe(a[0].replace(/-1$/, "-2"));
    expect(ids("01-lesson.ipynb")).toEqual(a); // committed outputs diff cleanly
    expect(ids("02-lesson.ipynb")[0]).not.toBe(a[0]); // two notebooks on one page do not collide
    expect(ids()[0]).not.toBe(ids()[0]);
  });
});

describe("figures in a real kernel", () => {
  it("send plotly.js with the first figure only", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "plot-test-"));
    const r = await runNotebook(path.join(__dirname, "fixtures", "notebooks", "plots.ipynb"), { writeDir: out, log: () => {} });
    expect(r.passed).toBe(true);
    const nb = JSON.parse(readFileSync(path.join(out, "plots.ipynb"), "utf8"));
    const outputs = nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code").map((c: { outputs: unknown[] }) => c.outputs);
    expect(outputs.map((o: unknown[]) => o.length)).toEqual([1, 1, 1, 1]);
    const [first, second] = outputs.map((o: Array<{ output_type: string; data: Record<string, string> }>) => o[0]);
    expect(first.output_type).toBe("display_data");
    expect(first.data["text/html"]).toContain("plotly.js v4.1.2");
    expect(first.data["text/plain"]).toBe('Figure "First": scatter of 3 points');
    expect(second.data["text/html"]).not.toContain("plotly.js v4.1.2");
    // without the library: the figure, its script and a PNG copy for script-less views (tens of KB, not MB)
    expect(second.data["text/html"].length).toBeLessThan(60_000);
    expect(second.data["text/html"]).toContain('<img class="kernel-lib-static"');
    expect(second.data["image/png"].length).toBeGreaterThan(1000);
    expect(second.data["text/html"]).toContain('"name":"fit"');
    // one bundle for every front end: Plotly JSON and a static picture beside the HTML
    expect(Object.keys(second.data).sort()).toEqual(["application/vnd.plotly.v1+json", "image/png", "image/svg+xml", "text/html", "text/plain"]);
    const json = second.data["application/vnd.plotly.v1+json"] as unknown as { data: Array<{ name?: string }> };
    expect(json.data.map((t) => t.name)).toEqual(["data", "fit"]);
    expect(second.data["image/svg+xml"]).toContain("<svg");
    expect(second.data["image/svg+xml"].match(/<circle cx/g)).toHaveLength(3 + 1); // 3 points and the legend's marker
    // the live view is one output, updated in place, ending at the last step
    const live = outputs[2][0] as { data: Record<string, string> };
    expect(live.data["text/plain"]).toBe("step 999: loss 0.0010000");
    expect(live.data["image/svg+xml"]).toContain("<polyline");
    // self-contained mode: the library travels with every figure
    const isolated = outputs[3][0] as { data: Record<string, string> };
    expect(isolated.data["text/html"]).toContain("plotly.js v4.1.2");
  });
});
