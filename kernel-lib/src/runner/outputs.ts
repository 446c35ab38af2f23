import { readFileSync } from "node:fs";
import { diffArrays } from "diff";

/**
 * Comparing a cell's fresh outputs with the ones stored in the notebook, as
 * nbval does: the text outputs only (stdout, stderr, `text/plain`, an error's
 * name and message), after the sanitizers, numbers optionally within a
 * relative tolerance. Rich outputs (HTML, pictures, Plotly JSON) are not
 * compared: they carry the same content as their text/plain line, or timings.
 */

export interface Sanitizer {
  regex: RegExp;
  replace: string;
}

/**
 * nbval's sanitizer file (`--nbval-sanitize-with`): INI sections, each with a
 * `regex` and a `replace` (Python syntax: `\1` and `(?P<name>…)` are read as
 * JavaScript's `$1` and `(?<name>…)`). Applied in order, to every match.
 */
export function parseSanitizers(text: string, file = "sanitizer file"): Sanitizer[] {
  const sections: Array<{ name: string; line: number; regex?: string; replace?: string }> = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) {
      sections.push({ name: head[1], line: i + 1 });
      return;
    }
    // as Python's configparser reads it: the value without its surrounding whitespace
    const kv = /^(\w+)\s*[:=]\s*(.*)$/.exec(line);
    const section = sections[sections.length - 1];
    if (!kv || !section) throw new SyntaxError(`${file}:${i + 1}: expected "[name]", "regex: ..." or "replace: ...", got "${line}"`);
    const key = kv[1].toLowerCase();
    if (key !== "regex" && key !== "replace") throw new SyntaxError(`${file}:${i + 1}: unknown key "${kv[1]}" (a section has a regex and a replace)`);
    section[key] = kv[2];
  });
  return sections.map((s) => {
    if (s.regex === undefined || s.replace === undefined) throw new SyntaxError(`${file}:${s.line}: section [${s.name}] needs both a regex and a replace`);
    let regex: RegExp;
    try {
      regex = new RegExp(s.regex.replace(/\(\?P</g, "(?<"), "g");
    } catch (e) {
      throw new SyntaxError(`${file}:${s.line}: section [${s.name}]: ${(e as Error).message}`);
    }
    const replace = s.replace.replace(/\$/g, "$$$$").replace(/\\g<(\w+)>/g, (_, g) => (/^\d+$/.test(g) ? `$${g}` : `$<${g}>`)).replace(/\\(\d)/g, "$$$1");
    return { regex, replace };
  });
}

export const loadSanitizers = (file: string): Sanitizer[] => parseSanitizers(readFileSync(file, "utf8"), file);

export type OutputCheck = "all" | "lax";

/**
 * Whether a cell's output is compared, from its tags as nbval reads them:
 * every cell but those tagged `nbval-ignore-output` (or `ignore-output`), or
 * in lax mode only those tagged `nbval-check-output` (or `check-output`).
 */
export function outputChecked(tags: string[], mode: OutputCheck): boolean {
  const has = (name: string) => tags.includes(name) || tags.includes(`nbval-${name}`);
  return mode === "lax" ? has("check-output") : !has("ignore-output");
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

const joined = (text: unknown): string => (Array.isArray(text) ? text.join("") : typeof text === "string" ? text : "");

/**
 * The compared text of a cell's outputs, as lines: each output under a header
 * line naming its kind ([stdout], [stderr], [text/plain], [error]);
 * consecutive stream outputs of one kind are one.
 */
export function outputLines(outputs: unknown[] | undefined, sanitizers: Sanitizer[] = []): string[] {
  const blocks: Array<{ kind: string; text: string }> = [];
  for (const o of (outputs ?? []) as Array<Record<string, unknown>>) {
    let kind: string;
    let text: string;
    if (o.output_type === "stream") [kind, text] = [String(o.name), joined(o.text)];
    else if (o.output_type === "error") [kind, text] = ["error", `${o.ename}: ${String(o.evalue ?? "").split("\n")[0]}`];
    else if (o.output_type === "execute_result" || o.output_type === "display_data") {
      const plain = (o.data as Record<string, unknown> | undefined)?.["text/plain"];
      if (plain === undefined) continue;
      [kind, text] = ["text/plain", joined(plain)];
    } else continue;
    const last = blocks[blocks.length - 1];
    if (last && last.kind === kind && kind !== "text/plain") last.text += text;
    else blocks.push({ kind, text });
  }
  const lines: string[] = [];
  for (const b of blocks) {
    // terminal colours (Deno's kernel colours its values) are presentation, not output
    let text = b.text.replace(ANSI, "");
    for (const s of sanitizers) text = text.replace(s.regex, s.replace);
    lines.push(`[${b.kind}]`, ...text.replace(/\n$/, "").split("\n"));
  }
  return lines;
}

const NUMBER = /[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/g;

/** Two lines the same, or the same but for numbers that differ by at most `rtol` of the larger. */
export function linesMatch(a: string, b: string, rtol = 0): boolean {
  if (a === b) return true;
  if (!(rtol > 0)) return false;
  if (a.split(NUMBER).join("\0") !== b.split(NUMBER).join("\0")) return false;
  const na = a.match(NUMBER) ?? [];
  const nb = b.match(NUMBER) ?? [];
  return na.every((s, i) => {
    const [x, y] = [Number(s), Number(nb[i])];
    return x === y || Math.abs(x - y) <= rtol * Math.max(Math.abs(x), Math.abs(y));
  });
}

/**
 * Null when the fresh outputs match the stored ones; otherwise a line diff,
 * "- " for the stored lines and "+ " for the fresh ones, with up to two
 * unchanged lines of context around each change.
 */
export function compareOutputs(stored: unknown[] | undefined, fresh: unknown[] | undefined, options: { sanitizers?: Sanitizer[]; rtol?: number } = {}): string | null {
  const before = outputLines(stored, options.sanitizers);
  const after = outputLines(fresh, options.sanitizers);
  const parts = diffArrays(before, after, { comparator: (x: string, y: string) => linesMatch(x, y, options.rtol) });
  if (parts.every((p) => !p.added && !p.removed)) return null;
  const rows: Array<{ mark: string; line: string }> = [];
  for (const p of parts) for (const line of p.value) rows.push({ mark: p.added ? "+" : p.removed ? "-" : " ", line });
  const near = (i: number) => rows.slice(Math.max(0, i - 2), i + 3).some((r) => r.mark !== " ");
  const out: string[] = [];
  let gap = false;
  rows.forEach((r, i) => {
    if (near(i)) {
      if (gap) out.push("  …");
      gap = false;
      out.push(`${r.mark} ${r.line}`);
    } else gap = true;
  });
  if (gap) out.push("  …");
  if (before.length === 0) out.unshift("(the notebook stores no output for this cell)");
  return out.join("\n");
}
