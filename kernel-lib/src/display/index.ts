/**
 * Sending rich output to the notebook. tslab's public API sends one mime type
 * per call; its internal `lastWriteDisplayData` takes a whole bundle, so each
 * front end can pick the representation it can show.
 */

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

/** True inside a running tslab kernel. */
export function inKernel(): boolean {
  return kernelWriter() !== null;
}

/**
 * Show a mime bundle in the current cell's output. Outside a kernel (plain
 * Node, tests) the `text/plain` part is printed instead and false is returned.
 */
export function display(bundle: MimeBundle, options: DisplayOptions = {}): boolean {
  const write = kernelWriter();
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
