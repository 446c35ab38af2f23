import { existsSync, readdirSync, statSync } from "node:fs";
import * as path from "node:path";

/**
 * What the command-line tools share: `parse` (their parseArgs call, with a
 * boolean `help` option) run, or the exit code to end with: 0 after printing
 * the help, 2 after a bad argument, with the usage.
 */
export function parseCli<R extends { values: { help?: boolean } }>(usage: string, parse: () => R): R | number {
  let parsed: R;
  try {
    parsed = parse();
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${usage}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(usage);
    return 0;
  }
  return parsed;
}

/** The notebooks a command-line argument names: the file, or every .ipynb under the folder (checkpoints and node_modules skipped). */
export function notebooksIn(target: string): string[] {
  if (!existsSync(target)) throw new Error(`no such file or folder: ${target}`);
  if (!statSync(target).isDirectory()) return [target];
  const found: string[] = [];
  for (const name of readdirSync(target).sort()) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const p = path.join(target, name);
    if (statSync(p).isDirectory()) found.push(...notebooksIn(p));
    else if (name.endsWith(".ipynb")) found.push(p);
  }
  return found;
}

/** A `--flag SEC` value in milliseconds (`fallback` seconds when absent); throws naming the flag. */
export function seconds(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  const n = Number(value);
  if (!(n > 0)) throw new Error(`${flag} needs a positive number of seconds, got "${value}"`);
  return n * 1000;
}

/** `--jobs N`: a positive whole number, 1 when absent; throws otherwise. */
export function jobsOption(value: string | undefined): number {
  if (value === undefined) return 1;
  const jobs = Number(value);
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`--jobs needs a positive whole number, got "${value}"`);
  return jobs;
}
