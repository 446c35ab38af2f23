import { runNotebook, describeFailure, type NotebookResult, type RunOptions } from "./notebook";

/**
 * Run notebooks one after another, each in its own kernel, and print the
 * failures again at the end with the closing line `N passed, N failed`.
 */
export async function runNotebooks(paths: string[], options: RunOptions = {}): Promise<NotebookResult[]> {
  const log = options.log ?? ((line: string) => process.stdout.write(line + "\n"));
  const results: NotebookResult[] = [];
  for (const p of paths) {
    try {
      results.push(await runNotebook(p, { ...options, log }));
    } catch (e) {
      // An unreadable notebook fails on its own; the others still run.
      log(`FAIL ${p}: ${(e as Error).message}`);
      const failure = { cell: 0, codeCell: 0, source: "", reason: "error" as const, message: (e as Error).message };
      results.push({ path: p, passed: false, failure, failures: [failure], executed: 0, skipped: 0, ms: 0, written: null });
    }
  }
  const failed = results.filter((r) => !r.passed);
  if (failed.length > 0 && results.length > 1) {
    log("\nFailures:");
    for (const r of failed) for (const f of r.failures) log(describeFailure(r.path, f));
  }
  log(`${results.length - failed.length} passed, ${failed.length} failed`);
  return results;
}
