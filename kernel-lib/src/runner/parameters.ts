/**
 * Parameters for a run, as papermill does them for Python: the cell tagged
 * `parameters` declares defaults (`const steps = 1000;`), and a run given
 * other values gets a cell tagged `injected-parameters` right after it that
 * declares them again, with the same types.
 */
import { sourceText, type Cell } from "./cells";

export type ParameterValue = number | string | boolean;

/** A command-line value: JSON when it parses as a number, a string in quotes or a boolean; else the text itself. */
export function parseParameterValue(text: string): ParameterValue {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v;
  } catch {
    // not JSON: a plain string
  }
  return text;
}

interface Declared {
  name: string;
  type: "number" | "string" | "boolean";
}

// `const|let|var name[: type] = literal;` at the start of a line
const DECLARATION = /^\s*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::\s*(number|string|boolean)\s*)?=\s*([^;\n]+?)\s*;?\s*(?:\/\/.*)?$/;

function literalType(text: string): Declared["type"] | null {
  if (/^-?(\d[\d_]*(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(text)) return "number";
  if (/^(true|false)$/.test(text)) return "boolean";
  if (/^(["'`]).*\1$/.test(text)) return "string";
  return null;
}

/** The names and types the parameters cell declares. */
export function declaredParameters(cell: Cell): Declared[] {
  const out: Declared[] = [];
  for (const line of sourceText(cell).split("\n")) {
    const m = DECLARATION.exec(line);
    if (!m) continue;
    const type = (m[2] as Declared["type"] | undefined) ?? literalType(m[3]);
    if (type) out.push({ name: m[1], type });
  }
  return out;
}

/**
 * Insert the cell that sets `values` after the notebook's parameters cell.
 * Throws, naming what is wrong, for a notebook without one, a name it does
 * not declare, or a value of another type.
 */
export function injectParameters(cells: Cell[], values: Record<string, ParameterValue>, where: string): void {
  const names = Object.keys(values);
  if (names.length === 0) return;
  const at = cells.findIndex((c) => c.cell_type === "code" && (c.metadata?.tags ?? []).includes("parameters"));
  if (at < 0) throw new Error(`${where} has no cell tagged "parameters", so -p ${names[0]} has nothing to set`);
  const declared = new Map(declaredParameters(cells[at]).map((d) => [d.name, d.type]));
  const lines: string[] = [];
  for (const name of names) {
    const type = declared.get(name);
    if (type === undefined) {
      const known = [...declared.keys()];
      throw new Error(`${where}: its parameters cell does not declare ${name} (it declares ${known.length ? known.join(", ") : "nothing"})`);
    }
    const value = values[name];
    if (typeof value !== type) {
      throw new Error(`${where}: parameter ${name} is a ${type} in the notebook, but -p ${name} gave the ${typeof value} ${JSON.stringify(value)}`);
    }
    lines.push(`const ${name}: ${type} = ${JSON.stringify(value)};`);
  }
  const injected: Cell = {
    cell_type: "code",
    id: "injected-parameters",
    metadata: { tags: ["injected-parameters"] },
    source: `// Parameters given to this run\n${lines.join("\n")}`,
    outputs: [],
    execution_count: null,
  };
  cells.splice(at + 1, 0, injected);
}

/** The I-th (1-based) of N deterministic slices of `paths`: every N-th notebook in sorted order, from the I-th. */
export function shard<T extends string>(paths: T[], index: number, count: number): T[] {
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 1 || index > count) {
    throw new RangeError(`--shard needs I/N with 1 <= I <= N, got ${index}/${count}`);
  }
  return [...new Set(paths)].sort().filter((_, k) => k % count === index - 1);
}
