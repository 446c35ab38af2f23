import { workerData } from "node:worker_threads";
import { instantiate } from "./wasm";

// The helper thread of the WebAssembly matmul: waits for a posted job in the
// shared control words, computes its rows, marks it done.
const { memory, control, file } = workerData as { memory: Parameters<typeof instantiate>[0]; control: Int32Array; file: string };
const { matmul } = instantiate(memory, file);
for (;;) {
  Atomics.wait(control, 0, 0);
  if (Atomics.load(control, 0) !== 1) continue;
  const [, a, b, c, m, k, n, packed, transB] = control;
  matmul(a, b, c, m, k, n, packed, 0, transB);
  Atomics.store(control, 0, 2);
  Atomics.notify(control, 0);
}
