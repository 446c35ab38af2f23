/** Shape arithmetic shared by the ops: sizes, strides, broadcasting, axes. */

import { contiguousStrides, numel } from "../backend/backend";

export type Shape = number[];
export { contiguousStrides, numel };

export const sameShape = (a: Shape, b: Shape): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

export const fmt = (shape: Shape): string => `[${shape.join(", ")}]`;

/** Broadcast shapes the NumPy/torch way; the error names the op and both shapes. */
export function broadcastShapes(op: string, ...shapes: Shape[]): Shape {
  const nd = Math.max(...shapes.map((s) => s.length));
  const out: Shape = [];
  for (let i = 0; i < nd; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - nd + i] ?? 1;
      if (v === 1) continue;
      if (d !== 1 && v !== d) {
        throw new RangeError(`${op}: shapes ${shapes.map(fmt).join(" and ")} cannot be broadcast together (dimension ${i}: ${d} vs ${v})`);
      }
      d = v;
    }
    out.push(d);
  }
  return out;
}

/** Strides that read a contiguous array of `shape` as if broadcast to `target`. */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const own = contiguousStrides(shape);
  const lead = target.length - shape.length;
  return target.map((_, i) => (i < lead || shape[i - lead] === 1 ? 0 : own[i - lead]));
}

/** A dimension index, negative counting from the end, checked. */
export function normDim(op: string, dim: number, ndim: number): number {
  if (!Number.isInteger(dim) || dim < -ndim || dim >= Math.max(ndim, 1)) {
    throw new RangeError(`${op}: dimension ${dim} is out of range for a tensor with ${ndim} dimension${ndim === 1 ? "" : "s"}`);
  }
  return dim < 0 ? dim + ndim : dim;
}

/** Parse shape arguments given either as numbers or as one array. */
export function shapeArg(op: string, args: Array<number | Shape>): Shape {
  const shape = args.length === 1 && Array.isArray(args[0]) ? (args[0] as Shape) : (args as number[]);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`${op}: sizes must be non-negative integers, got ${fmt(shape)}`);
  }
  return [...shape];
}
