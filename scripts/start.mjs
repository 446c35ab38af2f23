#!/usr/bin/env node
// `npm start`: register this project's tslab kernel in a project-local Jupyter
// data folder, then open the lessons in JupyterLab (or the classic Notebook).
// Extra arguments go to Jupyter: `npm start -- --no-browser --port 8899`.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`Node ${process.versions.node} is too old: the lessons need Node >= 20.19 (it can require() ES modules).`);
  process.exit(1);
}

let runner;
try {
  runner = require("kernel-lib/runner");
} catch {
  console.error("kernel-lib is not built: run `npm install` in " + root + " first.");
  process.exit(1);
}

const dataDir = path.join(root, ".jupyter-local", "share", "jupyter");
const tslab = runner.findTslab(path.join(root, "notebooks"));
runner.installKernelSpecs(dataDir, tslab);
console.log(`Registered the tslab ${tslab.version} kernels (TypeScript, JavaScript) in ${dataDir}`);

/** The first Jupyter front end found on PATH (or Debian's /usr/bin). */
function findJupyter() {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter), "/usr/bin", "/usr/local/bin"];
  for (const [exe, name] of [
    ["jupyter-lab", "JupyterLab"],
    ["jupyter-notebook", "the classic Notebook"],
  ]) {
    for (const d of dirs) {
      const p = path.join(d, exe);
      if (d && existsSync(p) && spawnSync(p, ["--version"], { stdio: "ignore" }).status === 0) return { exe: p, name };
    }
  }
  return null;
}

const jupyter = findJupyter();
if (!jupyter) {
  console.error(`No Jupyter found (looked for jupyter-lab and jupyter-notebook on PATH).
Install one of:
  pip install jupyterlab                      # or: pipx install jupyterlab
  conda install -c conda-forge jupyterlab
  sudo apt-get install jupyter-notebook       # Debian/Ubuntu: the classic Notebook
then run \`npm start\` again. The kernel is already registered in ${dataDir}.`);
  process.exit(1);
}

// The project folder, so that both the lessons (notebooks/) and their student
// versions (student/) are one click away.
const args = ["--notebook-dir", root, ...process.argv.slice(2)];
if (process.getuid?.() === 0 && !args.includes("--allow-root")) args.push("--allow-root");
const env = {
  ...process.env,
  JUPYTER_PATH: [dataDir, process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter),
};
console.log(`Starting ${jupyter.name}: ${jupyter.exe} ${args.join(" ")}`);
const child = spawn(jupyter.exe, args, { env, stdio: ["inherit", "inherit", "pipe"] });

// Jupyter logs on stderr; pass it through and repeat the address plainly once.
let announced = false;
child.stderr.on("data", (chunk) => {
  process.stderr.write(chunk);
  const found = !announced && chunk.toString().match(/https?:\/\/(?:127\.0\.0\.1|localhost)[^\s]*/);
  if (found) {
    announced = true;
    const at = (folder) => {
      const url = new URL(found[0]);
      url.pathname = url.pathname.replace(/\/(lab|tree)?\/?$/, "") + (jupyter.name === "JupyterLab" ? `/lab/tree/${folder}` : `/tree/${folder}`);
      return url.toString();
    };
    console.log(`\n  The lessons:            ${at("notebooks")}\n  Their student versions: ${at("student")}\n  (pick the "TypeScript (tslab)" kernel; Ctrl-C here stops the server)\n`);
  }
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
