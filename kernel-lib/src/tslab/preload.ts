/**
 * `node --require kernel-lib/dist/tslab/preload.js <tslab>/bin/tslab kernel …`
 * starts a tslab kernel whose zeromq sends are serialized (see ./sends) from
 * the first message on, with the pinned tslab's fixes where its install has
 * none (see ./patched). The kernelspecs kernel-lib writes and its notebook
 * runner start kernels this way.
 */
import { realpathSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { serializeZeromq } from "./sends";
import { usePatchedTslab } from "./patched";

const script = process.argv[1];
// The zeromq tslab itself will load: resolved from its own script.
let zmq: unknown = null;
try {
  if (script) zmq = createRequire(realpathSync(script))("zeromq");
} catch {
  // not a tslab (or no zeromq next to it): nothing to fix
}
if (zmq) serializeZeromq(zmq);

// <tslab>/bin/tslab: the package is the folder above.
if (script && /[\\/]tslab[\\/]bin[\\/]tslab$/.test(realpathSync(script))) usePatchedTslab(path.dirname(path.dirname(realpathSync(script))));
