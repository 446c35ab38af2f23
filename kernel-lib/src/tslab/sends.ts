/**
 * A fix for tslab's lost messages (output cut off, a kernel that stays "busy").
 *
 * tslab sends every Jupyter message with zeromq's `socket.send()` and never
 * waits for it. zeromq.js 6 lets a send complete synchronously only 512 times
 * in a row; the next one is deferred to a later turn of the event loop so the
 * loop is not starved, and until it goes out every other `send()` on that
 * socket throws EBUSY. tslab drops the error, so the message is lost: a cell
 * printing a thousand lines shows a few hundred of them, and when the lost
 * message is the "idle" status, Jupyter front ends and notebook runners wait
 * for the end of the cell forever.
 *
 * `serializeSends` queues each send behind the one before it on the same
 * socket, so every message goes out, in order. It also turns on `noDrop` for
 * publishers (tslab's iopub): a publisher otherwise discards messages once
 * 1000 are waiting for a subscriber, which a cell printing in a loop reaches
 * at once; with `noDrop` the queue waits for the front end instead.
 */

import * as path from "node:path";

/** `node --require` this file to start a kernel with serialized sends (see ./preload). */
export const preloadScript: string = path.join(__dirname, "preload.js");

type Send = (this: object, ...args: unknown[]) => unknown;
interface SocketPrototype {
  send: Send;
}

/** Marks a patched prototype (Symbol.for: two copies of kernel-lib agree). */
const PATCHED = Symbol.for("kernel-lib.serializedSends");

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A write-only option, present on publishers only. zeromq.js warns that it
 * takes effect only at the next bind; libzmq in fact reads it at each send,
 * and the warning would land in the cell's output (tslab sends stderr there).
 */
function setNoDrop(publisher: { noDrop: boolean }): void {
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  try {
    publisher.noDrop = true;
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** Make `send` on every socket built from this prototype wait its turn. Idempotent. */
export function serializeSends(proto: SocketPrototype): void {
  if ((proto as { [PATCHED]?: true })[PATCHED]) return;
  const original = proto.send;
  const tails = new WeakMap<object, Promise<unknown>>();
  const seen = new WeakSet<object>();
  // A native method, read-only but configurable: redefined, not assigned.
  const send = function (this: object, ...args: unknown[]): Promise<unknown> {
    // EBUSY: a send started before the patch is still pending. EAGAIN: a
    // full no-drop publisher (the fast path found no room after all). Both
    // mean "try again shortly"; nothing of the message went out.
    const retry = (e: unknown): Promise<unknown> => {
      const code = (e as { code?: string } | null)?.code;
      if (code === "EBUSY" || code === "EAGAIN") return nextTurn().then(attempt);
      throw e;
    };
    const attempt = (): Promise<unknown> => {
      let sending: Promise<unknown>;
      try {
        sending = Promise.resolve(original.apply(this, args));
      } catch (e) {
        return retry(e);
      }
      return sending.catch(retry);
    };
    if (!seen.has(this)) {
      seen.add(this);
      if ("noDrop" in this) setNoDrop(this as { noDrop: boolean });
    }
    const previous = tails.get(this);
    const sent = previous ? previous.then(attempt, attempt) : attempt();
    tails.set(this, sent);
    const forget = () => {
      if (tails.get(this) === sent) tails.delete(this);
    };
    sent.then(forget, forget);
    return sent;
  };
  Object.defineProperty(proto, "send", { value: send, writable: false, enumerable: false, configurable: true });
  Object.defineProperty(proto, PATCHED, { value: true });
}

/**
 * Serialize the sends of a loaded zeromq module, if it is zeromq.js 6 (the
 * promise API, with `Publisher` classes; zeromq 5 queues every send itself).
 */
export function serializeZeromq(zmq: unknown): boolean {
  const mod = zmq as { Socket?: { prototype?: SocketPrototype }; Publisher?: unknown } | null;
  if (typeof mod?.Publisher !== "function" || typeof mod.Socket?.prototype?.send !== "function") return false;
  serializeSends(mod.Socket.prototype);
  return true;
}

/**
 * Patch every zeromq already loaded in this process (tslab loads its copy
 * when the kernel starts, before any cell runs). Returns how many were
 * patched. Called when kernel-lib is imported, so kernels registered with a
 * plain `tslab install` are fixed from the cell that imports kernel-lib on.
 */
export function serializeLoadedZeromq(): number {
  let n = 0;
  for (const [id, mod] of Object.entries(require.cache)) {
    if (mod && /[\\/]zeromq[\\/]lib[\\/]index\.js$/.test(id) && serializeZeromq(mod.exports)) n++;
  }
  return n;
}
