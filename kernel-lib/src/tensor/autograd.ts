import type { Device, Tensor as TensorClass } from "./tensor";

type Tensor = TensorClass<Device>;

let gradEnabled = true;

/** Whether ops currently record the graph (false inside `noGrad`). */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Run `fn` without recording the graph: results do not require grad. Use it
 * for parameter updates and evaluation. An async `fn` keeps recording off
 * until its promise settles.
 */
export function noGrad<T>(fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = false;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    gradEnabled = before;
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => (gradEnabled = before)) as T;
  }
  gradEnabled = before;
  return result;
}

/** One recorded op: how to turn the gradient of its output into gradients of its inputs. */
export class GradNode {
  private readonly versions: number[];

  constructor(
    /** Shown as `gradFn=<MulBackward>`. */
    readonly name: string,
    readonly inputs: Tensor[],
    /** Gradients for each input (null where none flows), given the output's. */
    readonly backward: (grad: Tensor) => Array<Tensor | null>,
    /** Tensors the backward reads; changing one in place invalidates the graph. */
    readonly saved: Tensor[],
  ) {
    this.versions = saved.map((t) => t._version);
  }

  checkSaved(): void {
    this.saved.forEach((t, i) => {
      if (t._version !== this.versions[i]) {
        throw new Error(
          `${this.name}: a tensor of shape [${t.shape.join(", ")}] that this gradient needs was modified by an in-place ` +
            `operation (it is at version ${t._version}; the graph saved version ${this.versions[i]}). ` +
            `Recompute the forward pass after changing it, or change a .clone() instead.`,
        );
      }
    });
  }

  toString(): string {
    return `<${this.name}>`;
  }
}

/** A gradient from one backward pass; `shared` when other places received the same memory. */
export interface SweepGradient {
  tensor: Tensor;
  grad: Tensor;
  shared: boolean;
}

/**
 * The nodes behind `root` in the order a backward pass runs them: Kahn's
 * order, each node once every node consuming its output has passed its
 * gradient on (last in, first out among the ready ones).
 */
export function sweepOrder(root: GradNode): GradNode[] {
  // Count, for each node, how many consumers will send it a gradient.
  const pending = new Map<GradNode, number>([[root, 0]]);
  const stack: GradNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    for (const t of node.inputs) {
      const child = t.gradFn;
      if (child === null || !t.requiresGrad) continue;
      if (!pending.has(child)) {
        pending.set(child, 0);
        stack.push(child);
      }
      pending.set(child, pending.get(child)! + 1);
    }
  }
  const order: GradNode[] = [];
  const ready: GradNode[] = [root];
  while (ready.length > 0) {
    const node = ready.pop()!;
    order.push(node);
    for (const t of node.inputs) {
      const child = t.gradFn;
      if (child === null || !t.requiresGrad) continue;
      const left = pending.get(child)! - 1;
      pending.set(child, left);
      if (left === 0) ready.push(child);
    }
  }
  return order;
}

/**
 * Reverse sweep from `root` seeded with `gradient`. Nodes run in Kahn's order
 * (a node once every node consuming its output has passed its gradient on).
 * Returns, summed over the pass, the gradient of each leaf that requires grad
 * or, given `targets`, of each of those tensors (leaves or not; the sweep
 * then runs only the nodes that lead to one). A gradient tensor can reach
 * several places (add hands the same one to both inputs; a view shares its
 * memory): such a one is marked shared, so that a leaf stores a copy of it,
 * and a later in-place accumulation (or zero_) cannot change another leaf's
 * gradient. With `createGraph` the sweep is itself recorded, so that the
 * gradients can be differentiated again.
 */
export function runBackward(root: Tensor, gradient: Tensor, targets: Tensor[] | null = null, createGraph = false): SweepGradient[] {
  const found = new Map<Tensor, Tensor>();
  const routed = new Map<object, number>();
  const route = (g: Tensor) => routed.set(g._storage, (routed.get(g._storage) ?? 0) + 1);
  routed.set(gradient._storage, 2); // the caller holds the seed
  const result = () => [...found].map(([tensor, grad]) => ({ tensor, grad, shared: grad._view !== null || routed.get(grad._storage) !== 1 }));
  const wanted = targets === null ? null : new Set(targets);
  if (wanted?.has(root) || (root.gradFn === null && wanted === null)) found.set(root, gradient);
  if (root.gradFn === null) return result();
  const order = sweepOrder(root.gradFn);
  // With targets, only the nodes from which a target can be reached run.
  let needed: Set<GradNode> | null = null;
  if (wanted !== null) {
    needed = new Set();
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i];
      if (node.inputs.some((t) => t.requiresGrad && (wanted.has(t) || (t.gradFn !== null && needed!.has(t.gradFn))))) needed.add(node);
    }
  }
  const grads = new Map<GradNode, Tensor>([[root.gradFn, gradient]]);
  const accumulate = <K>(into: Map<K, Tensor>, key: K, g: Tensor, stored: boolean) => {
    const prev = into.get(key);
    if (prev === undefined) into.set(key, g);
    else {
      const total = prev.add(g);
      if (stored) routed.set(total._storage, 1); // a sum made for a result reaches one place only
      into.set(key, total);
    }
  };
  const sweep = () => {
    for (const node of order) {
      if (needed !== null && !needed.has(node)) continue;
      const g = grads.get(node);
      grads.delete(node);
      if (g === undefined) continue;
      node.checkSaved();
      const inputGrads = node.backward(g);
      node.inputs.forEach((t, i) => {
        if (!t.requiresGrad) return;
        const gi = inputGrads[i] ?? null;
        if (gi === null) return;
        if (gi.shape.join() !== t.shape.join()) {
          throw new Error(`${node.name}: internal error: gradient shape [${gi.shape}] for an input of shape [${t.shape}]`);
        }
        route(gi);
        if (wanted === null ? t.gradFn === null : wanted.has(t)) accumulate(found, t, gi, true);
        if (t.gradFn !== null && (needed === null || needed.has(t.gradFn))) accumulate(grads, t.gradFn, gi, false);
      });
    }
  };
  if (createGraph) enableGrad(sweep);
  else noGrad(sweep);
  return result();
}

/** Run `fn` with recording on (as torch.enable_grad), even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = before;
  }
}
