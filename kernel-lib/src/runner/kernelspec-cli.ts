import { homedir } from "node:os";
import * as path from "node:path";
import { findTslab, installKernelSpecs } from "./kernelspec";

const USAGE = `Usage: kernel-lib-kernelspec [--user | DATA_DIR]

Registers the TypeScript (tslab) and JavaScript (jslab) kernels of the tslab
installed here, started with kernel-lib's preload (the kernel's fixes), in a
Jupyter data folder:
  (nothing)   ./.jupyter-local/share/jupyter: the project's own, where
              kernel-lib-run looks first; JupyterLab finds it with
              JUPYTER_PATH=.jupyter-local/share/jupyter jupyter lab
  --user      Jupyter's folder for this account (~/.local/share/jupyter, or
              JUPYTER_DATA_DIR): every Jupyter of the account sees them
              (Binder, a hub's single-user server)
  DATA_DIR    DATA_DIR/kernels/tslab and DATA_DIR/kernels/jslab`;

function main(argv: string[]): number {
  if (argv.includes("-h") || argv.includes("--help")) {
    console.log(USAGE);
    return 0;
  }
  if (argv.length > 1 || argv.some((a) => a.startsWith("-") && a !== "--user")) {
    console.error(USAGE);
    return 2;
  }
  const dataDir =
    argv[0] === "--user"
      ? (process.env.JUPYTER_DATA_DIR ?? path.join(process.env.XDG_DATA_HOME ?? path.join(homedir(), ".local", "share"), "jupyter"))
      : (argv[0] ?? path.join(process.cwd(), ".jupyter-local", "share", "jupyter"));
  try {
    const tslab = findTslab(process.cwd());
    for (const dir of installKernelSpecs(dataDir, tslab)) console.log(`registered ${path.basename(dir)} (tslab ${tslab.version}) in ${dir}`);
  } catch (e) {
    console.error(`kernel-lib-kernelspec: ${(e as Error).message}`);
    return 1;
  }
  return 0;
}

process.exit(main(process.argv.slice(2)));
