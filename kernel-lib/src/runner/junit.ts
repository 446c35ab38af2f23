import { describeFailure, type NotebookResult } from "./notebook";

/** Text XML 1.0 can hold: no control characters (terminal colour codes included). */
function xmlText(s: string): string {
  return s
    .replace(/\x1b\[[0-9;]*[A-Za-z]/g, "")
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/**
 * A JUnit XML report of a run, one test case per notebook, the form CI
 * services (GitLab, Jenkins, GitHub test reporters) show as test results. A
 * failed notebook's case carries each failing cell as the runner reports it.
 */
export function junitReport(results: NotebookResult[], suite = "kernel-lib-run", timestamp = new Date()): string {
  const failed = results.filter((r) => !r.passed).length;
  const total = results.reduce((t, r) => t + r.ms, 0);
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="${xmlText(suite)}" tests="${results.length}" failures="${failed}" errors="0" time="${seconds(total)}">`,
    `  <testsuite name="${xmlText(suite)}" tests="${results.length}" failures="${failed}" errors="0" skipped="0" time="${seconds(total)}" timestamp="${timestamp.toISOString().slice(0, 19)}">`,
  ];
  for (const r of results) {
    const head = `    <testcase classname="notebooks" name="${xmlText(r.path)}" time="${seconds(r.ms)}"`;
    if (r.passed) {
      lines.push(`${head}/>`);
      continue;
    }
    const first = r.failure!;
    const description = describeFailure(r.path, first).split("\n");
    // "cell 3 (code cell 2) failed: Error: boom", or the whole line for a notebook that did not run.
    const where = description[0].slice(r.path.length + 2);
    const detail = description.slice(1).map((l) => l.trim()).find((l) => /^(\w*Error\b|✗)/.test(l)) ?? description.find((l, i) => i > 0 && !l.startsWith("    |"))?.trim();
    const message = detail ? `${where}: ${detail}` : where;
    const body = r.failures.map((f) => describeFailure(r.path, f)).join("\n\n");
    lines.push(`${head}>`, `      <failure message="${xmlText(message)}" type="${first.reason}">${xmlText(body)}</failure>`, `    </testcase>`);
  }
  lines.push(`  </testsuite>`, `</testsuites>`, "");
  return lines.join("\n");
}
