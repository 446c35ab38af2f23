/// <reference lib="dom" />
// A page that shows a notebook's saved outputs with JupyterLab 4's own output
// code, as a stock JupyterLab does (no plotly extension): a RenderMimeRegistry
// with the standard renderer factories and JupyterLab's default Sanitizer, and
// per code cell an OutputAreaModel (trusted or not) in an OutputArea widget.
// test/jupyterlab.test.ts bundles it with esbuild at test time.
//
// Nothing here changes how an output renders: the page only records which
// cell and output each rendered child belongs to (data-* attributes) and
// waits for the renderers to finish.

// JupyterLab's styles for output areas and rendered output (with lumino's, apputils' and ui-components'), then the theme variables.
import "@jupyterlab/outputarea/style/index.js";
import "./page.css";
import { Sanitizer } from "@jupyterlab/apputils";
import type * as nbformat from "@jupyterlab/nbformat";
import { OutputArea, OutputAreaModel } from "@jupyterlab/outputarea";
import { RenderMimeRegistry, standardRendererFactories, type IRenderMime } from "@jupyterlab/rendermime";
import { Widget } from "@lumino/widgets";

/** A RenderMimeRegistry that remembers each renderer's renderModel() promise, so the page knows when they are done. */
class TrackingRegistry extends RenderMimeRegistry {
  readonly pending: Promise<void>[] = [];
  readonly failures: string[] = [];
  override createRenderer(mimeType: string): IRenderMime.IRenderer {
    const renderer = super.createRenderer(mimeType);
    const renderModel = renderer.renderModel.bind(renderer);
    renderer.renderModel = (model) => {
      const done = renderModel(model);
      this.pending.push(done.catch((e: unknown) => void this.failures.push(`${mimeType}: ${String(e)}`)));
      return done;
    };
    return renderer;
  }
}

export interface RenderOptions {
  trusted: boolean;
  /** Give up waiting for the page to settle after this many ms. */
  settleTimeoutMs?: number;
}

export interface RenderSummary {
  cells: number;
  outputs: number;
  /** Renderers that rejected. */
  failures: string[];
}

type CodeCell = { cell_type: "code"; outputs: nbformat.IOutput[]; execution_count: number | null };
type Notebook = { cells: Array<{ cell_type: string } & Partial<CodeCell>> };

/** Resolves once the DOM under `root` has not changed for `quietMs` (or after `timeoutMs`). */
function settled(root: Node, quietMs: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    let timer = setTimeout(finish, quietMs);
    const deadline = setTimeout(finish, timeoutMs);
    const observer = new MutationObserver(() => {
      clearTimeout(timer);
      timer = setTimeout(finish, quietMs);
    });
    observer.observe(root, { subtree: true, childList: true, attributes: true, characterData: true });
    function finish(): void {
      observer.disconnect();
      clearTimeout(timer);
      clearTimeout(deadline);
      resolve();
    }
  });
}

async function renderNotebook(nb: Notebook, options: RenderOptions): Promise<RenderSummary> {
  const host = document.getElementById("notebook")!;
  host.textContent = "";
  host.dataset.trusted = String(options.trusted);
  // As JupyterLab's rendermime plugin builds it: standard factories and the default sanitizer.
  const rendermime = new TrackingRegistry({ initialFactories: standardRendererFactories, sanitizer: new Sanitizer() });
  let cells = 0;
  let outputs = 0;
  for (const [index, cell] of nb.cells.entries()) {
    if (cell.cell_type !== "code") continue;
    cells++;
    const wrapper = document.createElement("div");
    wrapper.className = "test-cell jp-Cell jp-CodeCell";
    wrapper.dataset.cell = String(index);
    const label = document.createElement("div");
    label.className = "test-cell-label";
    label.textContent = `cell ${index} · In [${cell.execution_count ?? " "}]`;
    wrapper.appendChild(label);
    host.appendChild(wrapper);
    const values = cell.outputs ?? [];
    const model = new OutputAreaModel({ values, trusted: options.trusted });
    const area = new OutputArea({ model, rendermime });
    area.addClass("jp-Cell-outputArea");
    Widget.attach(area, wrapper);
    // Record which saved output each rendered child shows.
    area.widgets.forEach((child, i) => {
      const out = values[i];
      child.node.dataset.cell = String(index);
      child.node.dataset.output = String(i);
      child.node.dataset.outputType = out?.output_type ?? "";
      const data = (out as { data?: Record<string, unknown> } | undefined)?.data;
      if (data) child.node.dataset.mimes = Object.keys(data).join(" ");
    });
    outputs += values.length;
  }
  // Renderers first, then scripts the outputs run (plotly draws asynchronously), then pictures.
  await Promise.all(rendermime.pending);
  await settled(host, 750, options.settleTimeoutMs ?? 20_000);
  await Promise.all(
    Array.from(host.querySelectorAll("img")).map((img) => (img.complete ? Promise.resolve() : img.decode().catch(() => undefined))),
  );
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  return { cells, outputs, failures: rendermime.failures };
}

(window as unknown as { renderNotebook: typeof renderNotebook }).renderNotebook = renderNotebook;
