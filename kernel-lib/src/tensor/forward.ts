/**
 * Forward-mode autodiff on tensors: a tensor can carry a tangent (the
 * directional derivative of its value) for each active forward level, one
 * level per `jvp()` call in progress. Every op that records a gradient also
 * gives its output's tangent, by the tangent rule written beside the gradient
 * in ./ops. Levels nest (jvp of jvp): while the rule of one level runs, that
 * level and the ones inside it are hidden, so the rule's own ops carry only
 * the outer levels' tangents, and the mixed derivatives come out right.
 * Forward mode is independent of gradient recording: it works inside
 * `noGrad()`, and so inside a backward pass (forward-over-reverse Hessians).
 *
 * A level can be batched: its tangents have one leading dimension more than
 * their values, one entry per direction (jacfwd pushes every direction in one
 * pass). The rules get that number of leading dimensions (`lead`, 0 or 1)
 * and keep the batch dimension in front.
 */
import type { Device, Tensor as TensorClass } from "./tensor";

type Tensor = TensorClass<Device>;

/**
 * A tangent rule: the output's tangent from the inputs' (null for an input
 * with none), or null for none; each tangent has `lead` batch dimensions in
 * front of its value's shape.
 */
export type TangentRule = (tangents: Array<Tensor | null>, lead: number) => Tensor | null;

// The ids of the active levels, outermost first. Ids are never reused, so a
// tangent left on a tensor by a finished jvp() is never read again.
let active: number[] = [];
// The batch dimensions of each level's tangents (0 or 1).
const leads = new Map<number, number>();
// How many of the active levels ops see now (fewer while a rule runs).
let visible = 0;
let nextId = 1;

/** Is some forward level visible now (the fast check every op makes)? */
export const forwardActive = (): boolean => visible > 0;

/** `t`'s tangent at `level`, or null. */
export function tangentAt(t: Tensor, level: number): Tensor | null {
  return t._tangents?.get(level) ?? null;
}

export function setTangent(t: Tensor, level: number, tangent: Tensor): void {
  (t._tangents ??= new Map()).set(level, tangent);
}

/** Does one of `inputs` carry a tangent at a visible level? */
export function hasTangents(inputs: Tensor[]): boolean {
  if (visible === 0) return false;
  for (const t of inputs) {
    const m = t._tangents;
    if (m !== null) for (let i = 0; i < visible; i++) if (m.has(active[i])) return true;
  }
  return false;
}

/**
 * Give `out` its tangent at each visible level where an input has one, by
 * `rule`, outermost level first (an inner level's rule may read the outer
 * tangents of `out`).
 */
export function propagate(name: string, out: Tensor, inputs: Tensor[], rule: TangentRule | undefined): void {
  const n = visible;
  for (let i = 0; i < n; i++) {
    const level = active[i];
    let any = false;
    const tangents = inputs.map((t) => {
      const x = tangentAt(t, level);
      if (x !== null) any = true;
      return x;
    });
    if (!any) continue;
    if (rule === undefined) throw new Error(`jvp: ${name.replace(/Backward$/, "")} has no forward-mode (tangent) rule`);
    visible = i;
    let tangent: Tensor | null;
    try {
      tangent = rule(tangents, leads.get(level) ?? 0);
    } finally {
      visible = n;
    }
    if (tangent !== null) setTangent(out, level, tangent);
  }
}

/** Run `fn` inside a new forward level, given its id; `lead` batch dimensions in front of its tangents. */
export function withLevel<R>(fn: (level: number) => R, lead = 0): R {
  const before = active;
  const seen = visible;
  const level = nextId++;
  active = [...active.slice(0, visible), level];
  visible = active.length;
  leads.set(level, lead);
  try {
    return fn(level);
  } finally {
    active = before;
    visible = seen;
    leads.delete(level);
  }
}
