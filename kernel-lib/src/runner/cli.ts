import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { jobsOption, notebooksIn, parseCli, seconds } from "./cli-args";
import { runNotebooks } from "./run";
import { junitReport } from "./junit";
import { parseParameterValue, shard, type ParameterValue } from "./parameters";
import { loadSanitizers, type Sanitizer } from "./outputs";

const USAGE = `Usage: kernel-lib-run [options] <notebook.ipynb | folder>...

Executes each notebook top to bottom in a fresh kernel (tslab, the one in
the notebook's node_modules, unless --kernel names another) and reports the
first failing cell of each.
Folders are searched for *.ipynb (checkpoints and node_modules are skipped).
Cell tags: skip-execution (not run), raises-exception (must fail),
parameters (the defaults -p replaces). Metadata, as nbmake reads it:
execution.timeout (seconds) and execution.allow_errors in the notebook's,
timeout (seconds) in a cell's; they override --timeout.

Options:
  --timeout SEC          per-cell limit (default 120); interrupt, then kill
  --startup-timeout SEC  kernel start limit (default 60)
  --kernel NAME          run with the installed kernel NAME (a kernelspec on
                         JUPYTER_PATH or in Jupyter's data folders) instead
                         of tslab (the default; jslab is its JavaScript one)
  --write DIR            save the executed notebooks into DIR
  --inplace              write each executed notebook back over its source
                         (only if every cell passed; a failure leaves it)
  --keep-going           run every cell even after one fails, and report
                         each failing cell (the notebook still fails)
  --jobs N               run N notebooks at once, each in its own kernel
                         (default 1); progress lines then start with the
                         notebook's path
  --junit FILE           also write a JUnit XML report (a test case per
                         notebook) for the CI service to show
  -p NAME VALUE          set a parameter: a cell tagged injected-parameters
                         after the one tagged parameters declares it again
                         (VALUE as JSON: 20, true, '"text"'; anything else is
                         a string); repeatable; a name the notebook does not
                         declare, or a value of another type, fails it
  --check-outputs        compare each cell's text outputs (stdout, stderr,
                         text/plain, an error's message) with those stored in
                         the notebook, as nbval does; a difference fails the
                         notebook with a line diff. Cells tagged
                         nbval-ignore-output (or ignore-output) are not
                         compared; rich outputs (HTML, pictures) never are
  --lax                  with --check-outputs: compare only the cells tagged
                         nbval-check-output (or check-output)
  --sanitize FILE        nbval's sanitizer file: [section]s of "regex: ..."
                         and "replace: ...", applied to both sides first
  --rtol X               numbers in the compared text may differ by X
                         relative to the larger (say 1e-6)
  --server URL           run on this Jupyter server (JupyterLab's, or a
                         JupyterHub user's: https://hub/user/NAME/) instead
                         of starting kernels here: a session per notebook,
                         named by its file name, at the server's root, over
                         its REST API and kernel websocket; the notebooks are
                         read (and written) here
  --token TOKEN          the token the server accepts (default: the
                         JUPYTER_TOKEN or JUPYTERHUB_API_TOKEN variable)
  --shard I/N            run only the I-th of N slices of the notebooks
                         (every N-th in sorted order, from the I-th), so a
                         CI matrix of N machines covers each one once
  -h, --help             this text

Ends with "N passed, N failed" (notebooks); exits 1 if any failed.`;

/** Take `-p NAME VALUE` (or `--parameter`) out of argv: parseArgs would read VALUE as a notebook. */
function takeParameters(argv: string[]): { rest: string[]; parameters: Record<string, ParameterValue> } {
  const rest: string[] = [];
  const parameters: Record<string, ParameterValue> = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== "-p" && argv[i] !== "--parameter") {
      rest.push(argv[i]);
      continue;
    }
    const [name, value] = [argv[i + 1], argv[i + 2]];
    if (name === undefined || value === undefined) throw new Error(`${argv[i]} needs a name and a value: -p steps 20`);
    if (!/^[A-Za-z_$][\w$]*$/.test(name)) throw new Error(`${argv[i]}: "${name}" is not a name a cell can declare`);
    parameters[name] = parseParameterValue(value);
    i += 2;
  }
  return { rest, parameters };
}

async function main(): Promise<number> {
  let parameters: Record<string, ParameterValue> = {};
  const args = parseCli(USAGE, () => {
    const taken = takeParameters(process.argv.slice(2));
    parameters = taken.parameters;
    return parseArgs({
      args: taken.rest,
      allowPositionals: true,
      options: {
        timeout: { type: "string" },
        "startup-timeout": { type: "string" },
        write: { type: "string" },
        kernel: { type: "string" },
        inplace: { type: "boolean" },
        "keep-going": { type: "boolean" },
        jobs: { type: "string" },
        junit: { type: "string" },
        shard: { type: "string" },
        "check-outputs": { type: "boolean" },
        lax: { type: "boolean" },
        sanitize: { type: "string" },
        rtol: { type: "string" },
        server: { type: "string" },
        token: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  });
  if (typeof args === "number") return args;
  if (args.positionals.length === 0) {
    console.error(USAGE);
    return 2;
  }
  let notebooks: string[];
  let cellTimeoutMs: number;
  let startupTimeoutMs: number;
  let jobs: number;
  let sanitizers: Sanitizer[] | undefined;
  let rtol: number | undefined;
  try {
    const checking = args.values["check-outputs"];
    for (const flag of ["lax", "sanitize", "rtol"] as const) {
      if (args.values[flag] !== undefined && !checking) throw new Error(`--${flag} only means something with --check-outputs`);
    }
    if (args.values.sanitize !== undefined) sanitizers = loadSanitizers(args.values.sanitize);
    if (args.values.rtol !== undefined) {
      rtol = Number(args.values.rtol);
      if (!(rtol >= 0)) throw new Error(`--rtol needs a number at least 0, got "${args.values.rtol}"`);
    }
    notebooks = args.positionals.flatMap(notebooksIn);
    cellTimeoutMs = seconds("--timeout", args.values.timeout, 120);
    startupTimeoutMs = seconds("--startup-timeout", args.values["startup-timeout"], 60);
    if (args.values.shard !== undefined) {
      const m = /^(\d+)\/(\d+)$/.exec(args.values.shard);
      if (!m) throw new Error(`--shard needs I/N (say 2/4), got "${args.values.shard}"`);
      const all = notebooks.length;
      notebooks = shard(notebooks, Number(m[1]), Number(m[2]));
      console.log(`shard ${m[1]}/${m[2]}: ${notebooks.length} of ${all} notebooks`);
    }
    jobs = jobsOption(args.values.jobs);
    if (args.values.token !== undefined && args.values.server === undefined) throw new Error("--token only means something with --server");
  } catch (e) {
    console.error(`kernel-lib-run: ${(e as Error).message}`);
    return 2;
  }
  if (notebooks.length === 0) {
    // (an empty shard of a small suite is fine: nothing to run there)
    if (args.values.shard !== undefined) return 0;
    console.error(`kernel-lib-run: no .ipynb files in ${args.positionals.join(", ")}`);
    return 2;
  }
  const results = await runNotebooks(notebooks, {
    cellTimeoutMs,
    startupTimeoutMs,
    writeDir: args.values.write,
    kernel: args.values.kernel,
    inplace: args.values.inplace,
    keepGoing: args.values["keep-going"],
    jobs,
    parameters: Object.keys(parameters).length > 0 ? parameters : undefined,
    checkOutputs: args.values["check-outputs"] ? (args.values.lax ? "lax" : "all") : undefined,
    sanitizers,
    rtol,
    server:
      args.values.server === undefined
        ? undefined
        : { url: args.values.server, token: args.values.token ?? process.env.JUPYTER_TOKEN ?? process.env.JUPYTERHUB_API_TOKEN },
  });
  const junit = args.values.junit;
  if (junit) {
    mkdirSync(path.dirname(path.resolve(junit)), { recursive: true });
    writeFileSync(junit, junitReport(results));
  }
  return results.every((r) => r.passed) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
