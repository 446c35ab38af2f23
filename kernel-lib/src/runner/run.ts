import { runNotebook, describeFailure, notebookFailure, type NotebookResult, type RunOptions } from "./notebook";

export interface RunManyOptions extends RunOptions {
  /**
   * How many notebooks run at once, each in its own kernel (default 1). With
   * more than one, every progress line starts with its notebook's path.
   */
  jobs?: number;
}

/**
 * Run notebooks, each in its own kernel, and print the failures again at the
 * end with the closing line `N passed, N failed`. Results come in the order
 * of `paths` whatever order they finish in.
 */
export async function runNotebooks(paths: string[], options: RunManyOptions = {}): Promise<NotebookResult[]> {
  const log = options.log ?? ((line: string) => process.stdout.write(line + "\n"));
  const jobs = options.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1) throw new RangeError(`jobs must be a positive integer, got ${jobs}`);
  const results: NotebookResult[] = new Array(paths.length);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const i = next++;
      const p = paths[i];
      const nbLog = jobs > 1 ? (line: string) => log(line.replace(/^/gm, `[${p}] `)) : log;
      try {
        results[i] = await runNotebook(p, { ...options, log: nbLog });
      } catch (e) {
        // An unreadable notebook fails on its own; the others still run.
        nbLog(`FAIL ${p}: ${(e as Error).message}`);
        const failure = notebookFailure("error", (e as Error).message);
        results[i] = { path: p, passed: false, failure, failures: [failure], executed: 0, skipped: 0, ms: 0, written: null };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, paths.length) }, worker));
  const failed = results.filter((r) => !r.passed);
  if (failed.length > 0 && results.length > 1) {
    log("\nFailures:");
    for (const r of failed) for (const f of r.failures) log(describeFailure(r.path, f));
  }
  log(`${results.length - failed.length} passed, ${failed.length} failed`);
  return results;
}
