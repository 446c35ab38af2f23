// Registers this checkout's tslab kernels ("TypeScript (tslab)", "JavaScript
// (tslab)") in a Jupyter data folder, with absolute paths to the node running
// this script, kernel-lib's preload and the project's tslab, so the kernels
// start whatever PATH the Jupyter server has. Used by binder/postBuild and
// scripts/bootstrap-hosted.sh after `npm ci`; run from the project's root.
//
//   node scripts/register-kernels.cjs <jupyter data folder> <log prefix>
const path = require("node:path");

const [dataDir, prefix = "register-kernels:"] = process.argv.slice(2);
if (!dataDir) {
  console.error("usage: node scripts/register-kernels.cjs <jupyter data folder> [log prefix]");
  process.exit(2);
}
const runner = require(require.resolve("kernel-lib/runner", { paths: [process.cwd()] }));
const tslab = runner.findTslab(path.resolve("notebooks"));
for (const dir of runner.installKernelSpecs(dataDir, tslab)) console.log(`${prefix} registered kernel ${path.basename(dir)} (tslab ${tslab.version}): ${dir}`);
