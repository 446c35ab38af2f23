/**
 * Sending rich output to the notebook. tslab's public API sends one mime type
 * per call; its internal `lastWriteDisplayData` takes a whole bundle, so each
 * front end can pick the representation it can show.
 */

import { createHash, randomBytes } from "node:crypto";

export type MimeBundle = Record<string, string | object>;

export interface DisplayOptions {
  metadata?: Record<string, unknown>;
  /** Reuse a display id to update an earlier output in place. */
  displayId?: string;
  /** Send `update_display_data` (true) rather than a new output. */
  update?: boolean;
}

type WriteDisplayData = (
  data: { data: MimeBundle; metadata: Record<string, unknown>; transient: { display_id?: string } },
  update: boolean,
) => void;

/**
 * tslab's jupyter module as loaded by the running kernel. Searched in the
 * module cache rather than required, so a kernel-lib installed next to a
 * different tslab copy still reaches the kernel's instance.
 */
function kernelWriter(): WriteDisplayData | null {
  for (const [id, mod] of Object.entries(require.cache)) {
    if (!mod || !/[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(id)) continue;
    const write = (mod.exports as { lastWriteDisplayData?: WriteDisplayData }).lastWriteDisplayData;
    if (typeof write === "function") return write;
  }
  return null;
}

interface DenoJupyter {
  display(bundle: MimeBundle, options: { raw: true; update?: boolean; display_id?: string }): Promise<void>;
  broadcast(msgType: string, content: Record<string, unknown>): Promise<void>;
}

const sending = new Set<Promise<void>>();

/**
 * Deno's kernel (`deno jupyter`) has its own API: `Deno.jupyter.display`
 * sends a raw mime bundle as is; `broadcast`, which it is built on, is used
 * when there is metadata to send (display drops it).
 */
function denoWriter(): WriteDisplayData | null {
  const jupyter = (globalThis as { Deno?: { jupyter?: Partial<DenoJupyter> } }).Deno?.jupyter;
  if (typeof jupyter?.display !== "function") return null;
  return ({ data, metadata, transient }, update) => {
    const sent =
      Object.keys(metadata).length > 0 && typeof jupyter.broadcast === "function"
        ? jupyter.broadcast(update ? "update_display_data" : "display_data", { data, metadata, transient })
        : jupyter.display!(data, { raw: true, update, display_id: transient.display_id });
    sending.add(sent);
    sent.then(
      () => sending.delete(sent),
      (e: unknown) => (sending.delete(sent), console.error(`display: ${(e as Error).message}`)),
    );
  };
}

/**
 * Resolves once every bundle shown so far has been handed to the kernel (at
 * once under tslab). Deno's kernel (2.9) fails a cell whose first large
 * message (over 100 to 250 KB) is still being sent when the cell ends, with
 * "Promise was collected" in its log and no error shown; a cell that awaits
 * anything is spared, so end such a cell with `await displaysSent()`.
 */
export function displaysSent(): Promise<void> {
  return Promise.all([...sending]).then(() => undefined);
}

/** The running kernel's way to send a bundle: tslab's or Deno's; null outside a kernel. */
function writer(): WriteDisplayData | null {
  return kernelWriter() ?? denoWriter();
}

/** True inside Deno's kernel. */
export const inDeno = (): boolean => kernelWriter() === null && denoWriter() !== null;

/** True inside a running tslab or Deno kernel. */
export function inKernel(): boolean {
  return writer() !== null;
}

/**
 * Show a mime bundle in the current cell's output. Outside a kernel (plain
 * Node, tests) the `text/plain` part is printed instead and false is returned.
 */
export function display(bundle: MimeBundle, options: DisplayOptions = {}): boolean {
  const write = writer();
  if (write === null) {
    const text = bundle["text/plain"];
    if (typeof text === "string") console.log(text);
    return false;
  }
  write(
    { data: bundle, metadata: options.metadata ?? {}, transient: options.displayId ? { display_id: options.displayId } : {} },
    options.update ?? false,
  );
  return true;
}

/**
 * Per-notebook prefix of the element ids in our HTML outputs. Jupyter's
 * server (and kernel-lib-run) name the notebook in JPY_SESSION_NAME, so the
 * ids are the same on every run of a notebook (committed outputs diff
 * cleanly) yet differ between two notebooks shown on one page; elsewhere
 * they are random.
 */
const session = process.env.JPY_SESSION_NAME;
const prefix = createHash("sha256")
  .update(session ? `session:${session}` : randomBytes(16))
  .digest("hex")
  .slice(0, 10);
let elements = 0;

/** A page-unique id for an element of an HTML output: `kernel-lib-<kind>-<notebook>-<n>`. */
export const elementId = (kind: string): string => `kernel-lib-${kind}-${prefix}-${++elements}`;

/**
 * The class of the script element that carries plotly.js (4.8 MB) inside the
 * first figure of a session; kernel-lib-run --inplace leaves that copy out.
 */
export const PLOTLY_SCRIPT_CLASS = "kernel-lib-plotly-js";
