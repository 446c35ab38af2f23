import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { Kernel, type KernelClient } from "./kernel";
import { ServerKernel, type JupyterServer } from "./server";
import { findKernelSpec } from "./kernelspec";
import { sourceText, type Cell } from "./cells";
import { injectParameters, type ParameterValue } from "./parameters";
import { PLOTLY_SCRIPT_CLASS } from "../display";
import { compareOutputs, outputChecked, type OutputCheck, type Sanitizer } from "./outputs";

export interface RunOptions {
  /** Per-cell limit in milliseconds (default 120 000). */
  cellTimeoutMs?: number;
  startupTimeoutMs?: number;
  interruptGraceMs?: number;
  /** Save each executed notebook into this folder, under its own file name. */
  writeDir?: string;
  /**
   * Write the executed notebook back over its source, only if every cell
   * passed (a failed run leaves the file as it was).
   */
  inplace?: boolean;
  /**
   * Run every cell even after one fails (the kernel's state goes on from
   * there), so one run reports every failing cell. The notebook still fails.
   */
  keepGoing?: boolean;
  /** Progress lines; defaults to stdout. Pass `() => {}` for silence. */
  log?: (line: string) => void;
  /** Run with this installed kernel (by kernelspec name) instead of the notebook's tslab. */
  kernel?: string;
  /**
   * Values for the names the cell tagged `parameters` declares, set by a cell
   * tagged `injected-parameters` inserted after it (see ./parameters).
   */
  parameters?: Record<string, ParameterValue>;
  /**
   * Compare each executed cell's text outputs with those stored in the
   * notebook (see ./outputs): "all" cells but those tagged ignore-output, or
   * in "lax" mode only those tagged check-output. A mismatch fails the
   * notebook but does not stop the run.
   */
  checkOutputs?: OutputCheck;
  /** Applied to stored and fresh text before comparing (nbval's sanitizers). */
  sanitizers?: Sanitizer[];
  /** Numbers in the compared text may differ by this much relative to the larger. */
  rtol?: number;
  /** The kernel's folder (default: the notebook's), where the cells' relative paths start. */
  cwd?: string;
  /** Extra environment variables for the kernel (not for a kernel on a `server`, which starts it with its own). */
  env?: Record<string, string>;
  /**
   * Run on this Jupyter server instead of starting the kernel here: a session
   * for the notebook's file name at the server's root (so the kernel starts
   * there), over its REST API and the kernel's websocket, as JupyterLab does.
   * The notebook itself is read here, not from the server.
   */
  server?: JupyterServer;
}

export interface CellFailure {
  /** 1-based position among all cells of the notebook (0: before any cell). */
  cell: number;
  /** 1-based position among the code cells, as the progress lines count. */
  codeCell: number;
  /** The first lines of the cell's source. */
  source: string;
  reason: "error" | "timeout" | "died" | "no-error" | "abort" | "mismatch";
  /** What the kernel said: the error message and traceback, or how the kernel ended; for a mismatch, the diff. */
  message: string;
}

export interface NotebookResult {
  path: string;
  passed: boolean;
  /** The first failing cell. */
  failure: CellFailure | null;
  /** Every failing cell: just the first unless `keepGoing` was set. */
  failures: CellFailure[];
  /** Code cells executed. */
  executed: number;
  skipped: number;
  ms: number;
  /** Where the executed notebook was written, if it was. */
  written: string | null;
}

interface Notebook {
  nbformat: number;
  metadata: { kernelspec?: { name?: string; language?: string }; execution?: { timeout?: unknown; allow_errors?: unknown } } & Record<string, unknown>;
  cells: Cell[];
}

const PLOTLY_SCRIPT = new RegExp(`<script type="text/javascript" class="${PLOTLY_SCRIPT_CLASS}">[\\s\\S]*?</script>\n?`);

/**
 * The notebook without the copy of plotly.js (4.8 MB) that the first figure
 * of a session carries, for the copy kept in a repository; the figures keep
 * their Plotly JSON and pictures. (A --write export keeps it, so its HTML
 * draws offline.)
 */
function withoutPlotly(nb: Notebook): Notebook {
  const note = "<!-- plotly.js left out of the stored notebook: run the notebook (or its first figure) to draw the figures -->\n";
  const strip = (o: unknown) => {
    const data = (o as { data?: Record<string, unknown> }).data;
    const html = data?.["text/html"];
    return typeof html === "string" && PLOTLY_SCRIPT.test(html) ? { ...(o as object), data: { ...data, "text/html": html.replace(PLOTLY_SCRIPT, note) } } : o;
  };
  return { ...nb, cells: nb.cells.map((cell) => (cell.outputs ? { ...cell, outputs: cell.outputs.map(strip) } : cell)) };
}

/** A timeout in seconds from metadata, as milliseconds; `where` names it in the error. */
function metadataSeconds(value: unknown, where: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !(value > 0)) throw new Error(`${where} must be a positive number of seconds, got ${JSON.stringify(value)}`);
  return value * 1000;
}

/** A failure of the notebook as a whole, before any cell ran (cell 0). */
export const notebookFailure = (reason: CellFailure["reason"], message: string): CellFailure => ({ cell: 0, codeCell: 0, source: "", reason, message });

function firstLines(source: string, n = 3): string {
  const lines = source.split("\n");
  return lines.slice(0, n).join("\n") + (lines.length > n ? "\n…" : "");
}

export function describeFailure(nbPath: string, f: CellFailure): string {
  const what = {
    error: "failed",
    abort: "was aborted by the kernel",
    timeout: "timed out",
    died: "lost its kernel",
    "no-error": "was tagged raises-exception but raised nothing",
    mismatch: "printed something other than its stored output (- stored, + now)",
  }[f.reason];
  if (f.cell === 0) return `${nbPath}: ${f.message}`;
  const src = f.source
    .split("\n")
    .map((l) => `    | ${l}`)
    .join("\n");
  const msg = (f.reason === "mismatch" ? f.message.trimEnd() : f.message.trim())
    .split("\n")
    // The kernel's own frames say nothing about the cell.
    .filter((l) => f.reason === "mismatch" || !/^\s+at .*(node:vm|node:internal|[\\/]tslab[\\/]dist[\\/])/.test(l))
    .map((l) => `    ${l}`)
    .join("\n");
  return `${nbPath}: cell ${f.cell} (code cell ${f.codeCell}) ${what}\n${src}\n${msg}`;
}

/**
 * Execute every code cell of a notebook in a fresh tslab kernel and record
 * the outputs in nbformat 4. The first failing cell ends the run, unless
 * `keepGoing` is set.
 */
export async function runNotebook(nbPath: string, options: RunOptions = {}): Promise<NotebookResult> {
  const log = options.log ?? ((line: string) => process.stdout.write(line + "\n"));
  const started = Date.now();
  const nb = JSON.parse(readFileSync(nbPath, "utf8")) as Notebook;
  if (nb.nbformat !== 4 || !Array.isArray(nb.cells)) throw new Error(`${nbPath}: not an nbformat 4 notebook`);
  if (options.parameters) injectParameters(nb.cells, options.parameters, nbPath);
  // The notebook's metadata overrides the command line, as nbmake reads it: execution.timeout and allow_errors.
  const execution = nb.metadata.execution ?? {};
  const notebookTimeoutMs = metadataSeconds(execution.timeout, `${nbPath}: metadata execution.timeout`) ?? options.cellTimeoutMs ?? 120_000;
  const allowErrors = execution.allow_errors === true;
  const spec = nb.metadata.kernelspec;
  const language = (spec?.language ?? spec?.name ?? "typescript").toLowerCase();
  const js = /^(javascript|jslab)$/.test(language);
  const codeCells = nb.cells.filter((c) => c.cell_type === "code").length;
  log(`▶ ${nbPath} (${codeCells} code cells)`);

  const result: NotebookResult = { path: nbPath, passed: true, failure: null, failures: [], executed: 0, skipped: 0, ms: 0, written: null };
  // An execution failure stops the run (unless keepGoing); an output mismatch does not.
  let stopped = false;
  const fail = (failure: CellFailure) => {
    if (failure.reason !== "mismatch") stopped = true;
    result.passed = false;
    result.failure ??= failure;
    result.failures.push(failure);
  };

  let kernel: KernelClient | null = null;
  const named = options.kernel !== undefined && options.kernel !== "tslab" && options.kernel !== "jslab";
  if (!named && !js && !/^(typescript|tslab)$/.test(language)) {
    // Running it through tslab would only produce a screen of type errors.
    const kernelName = spec?.name ? `the ${spec.name} kernel` : "another kernel";
    fail(notebookFailure("error", `this notebook is for ${kernelName} (language ${language}); kernel-lib-run runs TypeScript and JavaScript notebooks through tslab`));
  } else {
    try {
      const cwd = options.cwd ?? path.dirname(path.resolve(nbPath));
      kernel = options.server
        ? await ServerKernel.start({
            server: options.server,
            path: path.basename(nbPath),
            kernelName: options.kernel ?? (js ? "jslab" : "tslab"),
            startupTimeoutMs: options.startupTimeoutMs,
            interruptGraceMs: options.interruptGraceMs,
          })
        : await Kernel.start({
            cwd,
            js: options.kernel === "jslab" || (options.kernel === undefined && js),
            // as Jupyter's server does: the notebook's name (here without folders, the same on every machine)
            env: { ...process.env, JPY_SESSION_NAME: path.basename(nbPath), ...options.env },
            spec: named ? findKernelSpec(options.kernel!, cwd) : undefined,
            startupTimeoutMs: options.startupTimeoutMs,
            interruptGraceMs: options.interruptGraceMs,
          });
    } catch (e) {
      fail(notebookFailure("died", `the kernel did not start: ${(e as Error).message}`));
    }
  }

  let codeIndex = 0;
  for (const [i, cell] of nb.cells.entries()) {
    if (cell.cell_type !== "code" || !kernel) continue;
    codeIndex++;
    const tags = cell.metadata?.tags ?? [];
    const source = sourceText(cell);
    const label = `  [${String(codeIndex).padStart(String(codeCells).length)}/${codeCells}]`;
    const head = source.split("\n").find((l) => l.trim() !== "")?.trim().slice(0, 60) ?? "";
    if (stopped && !(options.keepGoing && kernel.alive)) {
      cell.outputs = [];
      cell.execution_count = null;
      continue;
    }
    if (tags.includes("skip-execution")) {
      result.skipped++;
      log(`${label} skip  ${head}`);
      continue;
    }
    const expectError = tags.includes("raises-exception");
    // a cell's own metadata timeout (seconds) overrides the notebook's
    const timeoutMs = metadataSeconds(cell.metadata?.timeout, `${nbPath}: cell ${i + 1} metadata timeout`) ?? notebookTimeoutMs;
    const stored = cell.outputs;
    const r = await kernel.execute(source, timeoutMs);
    result.executed++;
    cell.outputs = r.outputs;
    cell.execution_count = r.executionCount ?? codeIndex;
    const failure = (reason: CellFailure["reason"], message: string): CellFailure => ({
      cell: i + 1,
      codeCell: codeIndex,
      source: firstLines(source),
      reason,
      message,
    });
    let ok = r.status === "ok";
    // tslab answers requests that arrive within 200 ms of an error with "abort".
    if (r.status === "error" && (expectError || allowErrors || options.keepGoing)) await new Promise((res) => setTimeout(res, 300));
    if (r.status === "error" && (expectError || allowErrors)) {
      ok = true;
    } else if (r.status === "ok" && expectError) {
      fail(failure("no-error", "expected an error (tag raises-exception), but the cell succeeded"));
      ok = false;
    } else if (r.status === "error" || r.status === "abort") {
      fail(failure(r.status, r.errorText || "(the kernel reported an error but printed nothing)"));
    } else if (r.status === "timeout") {
      const limit = timeoutMs / 1000;
      const what = !r.started
        ? " (the kernel never reported starting the cell)"
        : r.replied
          ? " (the kernel replied but never reported idle: its output stream lost messages)"
          : "";
      fail(failure("timeout", `no result within ${limit} s${what}; interrupted${kernel.alive ? "" : " and killed"} the kernel`));
    } else if (r.status === "died") {
      const tail = kernel.log.trim().split("\n").slice(-10).join("\n");
      fail(failure("died", `the kernel process ended (${kernel.describeExit()})${tail ? `\n${tail}` : ""}${r.errorText ? `\n${r.errorText}` : ""}`));
    }
    let same = true;
    if (ok && options.checkOutputs && outputChecked(tags, options.checkOutputs)) {
      const diff = compareOutputs(stored, r.outputs, options);
      if (diff !== null) {
        same = false;
        fail(failure("mismatch", diff));
      }
    }
    log(`${label} ${!ok ? "FAIL " : same ? "ok   " : "DIFF "} ${(r.ms / 1000).toFixed(2)}s  ${head}`);
  }
  if (kernel) await kernel.shutdown();

  result.ms = Date.now() - started;
  const json = (notebook: Notebook) => JSON.stringify(notebook, null, 1) + "\n";
  if (options.writeDir) {
    mkdirSync(options.writeDir, { recursive: true });
    result.written = path.join(options.writeDir, path.basename(nbPath));
    writeFileSync(result.written, json(nb));
  }
  if (options.inplace && result.passed) {
    writeFileSync(nbPath, json(withoutPlotly(nb)));
    result.written ??= nbPath;
  } else if (options.inplace) log(`(left ${nbPath} as it was: the run failed)`);
  for (const f of result.failures) log(describeFailure(nbPath, f));
  log(`${result.passed ? "PASS" : "FAIL"} ${nbPath} (${result.executed} cells run, ${result.skipped} skipped, ${(result.ms / 1000).toFixed(1)} s)`);
  return result;
}
