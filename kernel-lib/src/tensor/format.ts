import { capability, defaultDevice, read } from "./engine";
import type { Device, Tensor } from "./tensor";
import { numel } from "./shape";

/** Torch-style printing: `tensor([ 6., 18.])`, `tensor(28., gradFn=<MulBackward>)`. */

const EDGE = 3;
const THRESHOLD = 1000;
const LINE = 80;

function valueFormatter(values: number[], dtype: string): (v: number) => string {
  if (dtype === "bool") return (v) => (v ? "true" : "false");
  if (dtype === "int32") return (v) => String(v);
  const finite = values.filter(Number.isFinite);
  const absMax = finite.length ? Math.max(...finite.map(Math.abs)) : 0;
  const nonzero = finite.filter((v) => v !== 0).map(Math.abs);
  const absMin = nonzero.length ? Math.min(...nonzero) : 0;
  const special = (v: number) => (Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf");
  if (finite.every((v) => Number.isInteger(v)) && absMax < 1e8) {
    return (v) => (Number.isFinite(v) ? `${v.toFixed(0)}.` : special(v));
  }
  if (absMax >= 1e8 || (absMin > 0 && absMin < 1e-4) || (absMin > 0 && absMax / absMin > 1000)) {
    return (v) => (Number.isFinite(v) ? v.toExponential(4).replace(/e([+-])(\d)$/, "e$10$2") : special(v));
  }
  return (v) => (Number.isFinite(v) ? v.toFixed(4) : special(v));
}

export function formatTensor(t: Tensor<Device>): string {
  const suffix: string[] = [];
  if (t.device !== defaultDevice()) suffix.push(`device="${t.device}"`);
  if (t.dtype === "float64") suffix.push(`dtype=${t.dtype}`);
  if (t.gradFn) suffix.push(`gradFn=${t.gradFn}`);
  else if (t.requiresGrad) suffix.push("requiresGrad=true");
  const tail = suffix.length ? `, ${suffix.join(", ")}` : "";
  if (!capability(t.device, "syncRead")) {
    return `tensor(<shape [${t.shape.join(", ")}], ${t.dtype}, on ${t.device}: await t.cpu() or await t.toArray() to read it>${tail})`;
  }
  const data = read(t) as ArrayLike<number>;
  const shape = t.shape;
  const summarize = numel(shape) > THRESHOLD;
  if (numel(shape) === 0) return `tensor([]${shape.length > 1 ? `, size=[${shape.join(", ")}]` : ""}${tail})`;

  // The values that will be shown decide the format.
  const strides = shape.map((_, i) => numel(shape.slice(i + 1)));
  const shownIndices = (n: number) => (summarize && n > 2 * EDGE ? [...Array(EDGE).keys(), -1, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)] : [...Array(n).keys()]);
  const shown: number[] = [];
  const collect = (dim: number, offset: number) => {
    if (dim === shape.length) return void shown.push(data[offset]);
    for (const i of shownIndices(shape[dim])) if (i >= 0) collect(dim + 1, offset + i * strides[dim]);
  };
  collect(0, 0);
  const f = valueFormatter(shown, t.dtype);
  const width = Math.max(...shown.map((v) => f(v).length));
  const cell = (v: number) => f(v).padStart(width);

  const indent = "tensor(".length;
  const render = (dim: number, offset: number, pad: number): string => {
    if (shape.length === 0) return f(data[0]);
    const items: string[] = [];
    for (const i of shownIndices(shape[dim])) {
      // torch marks elided values " ..." within a row, "..." between rows
      if (i < 0) items.push(dim === shape.length - 1 ? " ..." : "...");
      else if (dim === shape.length - 1) items.push(cell(data[offset + i]));
      else items.push(render(dim + 1, offset + i * strides[dim], pad + 1));
    }
    if (dim === shape.length - 1) {
      // Wrap long rows at the line width.
      const lines: string[] = [];
      let line = "";
      for (const item of items) {
        const next = line ? `${line}, ${item}` : item;
        if (line && pad + next.length + 2 > LINE) {
          lines.push(line + ",");
          line = item;
        } else line = next;
      }
      lines.push(line);
      return `[${lines.join("\n" + " ".repeat(pad + 1))}]`;
    }
    const sep = ",\n" + "\n".repeat(shape.length - dim - 2) + " ".repeat(pad + 1);
    return `[${items.join(sep)}]`;
  };
  return `tensor(${render(0, 0, indent)}${tail})`;
}
