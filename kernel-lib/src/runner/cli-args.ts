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
