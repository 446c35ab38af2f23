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

/** A leaf's gradient from one backward pass; `shared` when other places received the same memory. */
export interface LeafGradient {
  leaf: Tensor;
  grad: Tensor;
  shared: boolean;
}

/**
 * Reverse sweep from `root` seeded with `gradient`. A node runs once every
 * node consuming its output has passed its gradient on (Kahn's order). Returns
 * the gradient of each leaf that requires grad, summed over the pass, for the
 * caller to store. A gradient tensor can reach several places (add hands the
 * same one to both inputs; a view shares its memory): such a one is marked
 * shared, so that a leaf stores a copy of it, and a later in-place
 * accumulation (or zero_) cannot change another leaf's gradient.
 */
export function runBackward(root: Tensor, gradient: Tensor): LeafGradient[] {
  const leafGrads = new Map<Tensor, Tensor>();
  const routed = new Map<object, number>();
  const route = (g: Tensor) => routed.set(g._storage, (routed.get(g._storage) ?? 0) + 1);
  routed.set(gradient._storage, 2); // the caller holds the seed
  const result = () =>
    [...leafGrads].map(([leaf, grad]) => ({ leaf, grad, shared: grad._view !== null || routed.get(grad._storage) !== 1 }));
  if (root.gradFn === null) {
    leafGrads.set(root, gradient);
    return result();
  }
  // Count, for each node, how many consumers will send it a gradient.
  const pending = new Map<GradNode, number>();
  const stack: GradNode[] = [root.gradFn];
  pending.set(root.gradFn, 0);
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
  const grads = new Map<GradNode, Tensor>([[root.gradFn, gradient]]);
  const ready: GradNode[] = [root.gradFn];
  noGrad(() => {
    while (ready.length > 0) {
      const node = ready.pop()!;
      const g = grads.get(node);
      grads.delete(node);
      let inputGrads: Array<Tensor | null> = [];
      if (g !== undefined) {
        node.checkSaved();
        inputGrads = node.backward(g);
      }
      node.inputs.forEach((t, i) => {
        if (!t.requiresGrad) return;
        const gi = inputGrads[i] ?? null;
        if (gi !== null && gi.shape.join() !== t.shape.join()) {
          throw new Error(`${node.name}: internal error: gradient shape [${gi.shape}] for an input of shape [${t.shape}]`);
        }
        const child = t.gradFn;
        if (gi !== null) route(gi);
        if (child === null) {
          if (gi !== null) {
            const prev = leafGrads.get(t);
            if (prev === undefined) leafGrads.set(t, gi);
            else {
              const total = prev.add(gi);
              routed.set(total._storage, 1);
              leafGrads.set(t, total);
            }
          }
          return;
        }
        if (gi !== null) {
          const prev = grads.get(child);
          grads.set(child, prev === undefined ? gi : prev.add(gi));
        }
        const left = pending.get(child)! - 1;
        pending.set(child, left);
        if (left === 0) ready.push(child);
      });
    }
  });
  return result();
}
