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
 * for the end of the cell forever. A publisher (tslab's iopub) also discards
 * messages once 1000 wait for a subscriber, which a printing loop reaches.
 *
 * The patched `send` still sends at once when it can, so output streams live
 * while a cell computes. A refused send (EBUSY) is queued instead of lost, and
 * every later send on that socket queues behind it, in order, until the queue
 * has gone out. Publishers stop discarding: the preload lifts their queue
 * limit before they bind; on sockets already bound (kernel-lib imported into
 * a running kernel) they get `noDrop`, and a send refused for lack of room
 * (EAGAIN) is sent again.
 */

import * as path from "node:path";

/** `node --require` this file to start a kernel with the fix from the start (see ./preload). */
export const preloadScript: string = path.join(__dirname, "preload.js");

type Method = (this: ZmqSocket, ...args: unknown[]) => unknown;
interface ZmqSocket {
  noDrop?: boolean;
  sendHighWaterMark?: number;
}
interface Waiting {
  args: unknown[];
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}
type Prototype = Record<string, unknown>;

/** Marks a patched prototype (Symbol.for: two copies of kernel-lib agree). */
const PATCHED = Symbol.for("kernel-lib.serializedSends");

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const codeOf = (e: unknown) => (e as { code?: string } | null)?.code;

/** zeromq.js warns that an option set after bind waits for the next bind; noDrop applies at once, and tslab would print the warning into the cell. */
function quietly(set: () => void): void {
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  try {
    set();
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** Define (or shadow) a method: zeromq's native ones are read-only. */
function define(proto: Prototype, name: string, fn: Method): void {
  Object.defineProperty(proto, name, { value: fn, writable: false, enumerable: false, configurable: true });
}

/** Publishers whose queue limit was set before they bound: they need no noDrop. */
const unlimited = new WeakSet<ZmqSocket>();

/** Before a publisher binds, lift its queue limit (0: none): it then neither drops nor refuses. */
function liftLimitOnBind(proto: Prototype): void {
  const bind = proto.bind as Method;
  define(proto, "bind", function (this: ZmqSocket, ...args: unknown[]) {
    this.sendHighWaterMark = 0;
    unlimited.add(this);
    return bind.apply(this, args);
  });
}

/** Make `send` on every socket built from this prototype queue what zeromq refuses, in order. */
function queueRefusedSends(proto: Prototype): void {
  const send = proto.send as Method;
  const queues = new WeakMap<ZmqSocket, Waiting[]>();
  const checked = new WeakSet<ZmqSocket>();

  const drain = async (socket: ZmqSocket, queue: Waiting[]) => {
    while (queue.length > 0) {
      await nextTurn(); // the deferred send goes out in a later turn
      const item = queue[0];
      try {
        item.resolve(await send.apply(socket, item.args));
        queue.shift();
      } catch (e) {
        const code = codeOf(e);
        if (code !== "EBUSY" && code !== "EAGAIN") {
          queue.shift();
          item.reject(e);
        }
      }
    }
    queues.delete(socket);
  };
  const enqueue = (socket: ZmqSocket, args: unknown[]): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const queue = queues.get(socket);
      if (queue) queue.push({ args, resolve, reject });
      else {
        const fresh = [{ args, resolve, reject }];
        queues.set(socket, fresh);
        void drain(socket, fresh);
      }
    });

  define(proto, "send", function (this: ZmqSocket, ...args: unknown[]): Promise<unknown> {
    if (!checked.has(this)) {
      // A publisher bound before the patch keeps its limit: make it wait for room instead of dropping.
      checked.add(this);
      if ("noDrop" in this && !unlimited.has(this)) quietly(() => (this.noDrop = true));
    }
    if (queues.has(this)) return enqueue(this, args);
    let sent: Promise<unknown>;
    try {
      sent = Promise.resolve(send.apply(this, args));
    } catch (e) {
      if (codeOf(e) === "EBUSY") return enqueue(this, args);
      throw e;
    }
    // A no-drop publisher reports a full queue only through the promise: send it again.
    return sent.catch((e) => (codeOf(e) === "EAGAIN" ? enqueue(this, args) : Promise.reject(e)));
  });
}

/**
 * Apply the fix to a loaded zeromq module, if it is zeromq.js 6 (the promise
 * API, with `Publisher` classes; zeromq 5 queues every send itself).
 * Idempotent. Returns whether the module is (now) patched.
 */
export function serializeZeromq(zmq: unknown): boolean {
  const mod = zmq as Record<string, { prototype?: Prototype } | undefined> | null;
  const socket = mod?.Socket?.prototype;
  const publisher = mod?.Publisher?.prototype;
  if (!socket || !publisher || typeof socket.send !== "function" || typeof socket.bind !== "function") return false;
  if (socket[PATCHED as unknown as string]) return true;
  queueRefusedSends(socket);
  for (const p of [publisher, mod?.XPublisher?.prototype]) if (p) liftLimitOnBind(p);
  Object.defineProperty(socket, PATCHED, { value: true });
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
