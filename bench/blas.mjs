// Which BLAS the Python peers (Debian's numpy and torch) run on, and the
// OpenBLAS kernel they should use on this CPU. Two traps make a peer look
// slower than it is: without libopenblas0-pthread they link the reference
// BLAS (about 30x slower), and on some virtual machines OpenBLAS detects an
// AVX-512 CPU as Prescott (SSE3) and runs its SSE kernels (about 5x slower).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** The OpenBLAS core this CPU allows, from its flags in /proc/cpuinfo (null: leave OpenBLAS's own choice). */
export function coreFromCpuinfo(cpuinfo = readCpuinfo()) {
  const line = cpuinfo.split("\n").find((l) => l.startsWith("flags"));
  if (!line) return null;
  const flags = new Set(line.split(":")[1].trim().split(/\s+/));
  const has = (...fs) => fs.every((f) => flags.has(f));
  // (`as`: cores OpenBLAS may detect that run kernels at least as wide: AMD's Zen cores run its Haswell kernels)
  const avx512 = ["SkylakeX", "Cooperlake", "SapphireRapids"];
  if (has("avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd")) return { core: "SkylakeX", as: avx512, because: "avx512f, avx512bw, avx512vl, avx512dq and avx512cd" };
  if (has("avx2", "fma")) return { core: "Haswell", as: ["Haswell", "Zen", ...avx512], because: "avx2 and fma" };
  if (has("avx")) return { core: "SandyBridge", as: ["SandyBridge", "Haswell", "Zen", ...avx512], because: "avx" };
  return null;
}

/** Is `core` (what OpenBLAS runs) as good as what the CPU allows? */
const enough = (core, wanted) => wanted === null || wanted.as.includes(core);

function readCpuinfo() {
  try {
    return readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return "";
  }
}

// Loads numpy and torch, multiplies through both, and reports the BLAS
// libraries mapped into the process and numpy's float32 error against float64.
const PROBE = `
import json, numpy, torch
rng = numpy.random.default_rng(0)
a = rng.standard_normal((256, 256)).astype(numpy.float32)
b = rng.standard_normal((256, 256)).astype(numpy.float32)
exact = a.astype(numpy.float64) @ b.astype(numpy.float64)
err = float(numpy.abs(a @ b - exact).max() / numpy.abs(exact).max())
terr = float((torch.from_numpy(a) @ torch.from_numpy(b)).sub(torch.from_numpy(exact).float()).abs().max() / numpy.abs(exact).max())
libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.rsplit("/", 1)[-1].lower()})
print(json.dumps({"numpy": numpy.__version__, "torch": torch.__version__, "libs": libs, "err": max(err, terr)}))
`;

/** The probe's findings, with the kernel OpenBLAS names on stderr when OPENBLAS_VERBOSE=2. */
function probe(python, env) {
  const r = spawnSync(python, ["-c", PROBE], { encoding: "utf8", env: { ...env, OPENBLAS_VERBOSE: "2" } });
  const core = /Core:\s*(\S+)/.exec(r.stderr ?? "")?.[1] ?? null;
  if (r.status !== 0) return { failed: (r.stderr || String(r.error)).trim().split("\n").pop(), core };
  return { ...JSON.parse(r.stdout.trim().split("\n").pop()), core };
}

/**
 * The environment to run the Python peers in (OPENBLAS_CORETYPE set from
 * /proc/cpuinfo unless the caller set it), a line saying what they use, and
 * whether their figures are comparable (an OpenBLAS on the best core the CPU
 * allows, with float32 results that agree with float64).
 */
export function pythonBlas(python, base = process.env) {
  const wanted = coreFromCpuinfo();
  const env = { ...base };
  let how;
  let info;
  if (base.OPENBLAS_CORETYPE) {
    how = "set by OPENBLAS_CORETYPE in the environment";
    info = probe(python, env);
  } else {
    // (each probe starts Python with torch: the one without a core set is reused where it stands)
    delete env.OPENBLAS_CORETYPE;
    const detected = probe(python, env);
    info = detected;
    how = "as OpenBLAS detected it";
    if (!detected.failed && !enough(detected.core, wanted)) {
      const chosen = probe(python, { ...env, OPENBLAS_CORETYPE: wanted.core });
      if (!chosen.failed && chosen.err < 1e-4) {
        env.OPENBLAS_CORETYPE = wanted.core;
        info = chosen;
        how = `set by the bench from /proc/cpuinfo (${wanted.because}); OpenBLAS detected ${detected.core ?? "nothing"} by itself`;
      } else {
        // a core that gives wrong products here is not used
        how = `as OpenBLAS detected it; ${wanted.core}, which /proc/cpuinfo allows, gave a relative error of ${chosen.err ?? chosen.failed} and was dropped`;
      }
    }
  }
  if (info.failed) return { env, line: `Python peers: ${info.failed}`, comparable: false, why: "numpy or torch would not load" };
  const core = info.core;
  const openblas = info.libs.find((l) => /openblas/i.test(l));
  const blas = openblas ? `OpenBLAS (${openblas})` : info.libs.length ? `the reference BLAS (${info.libs.join(", ")}): install libopenblas0-pthread` : "no BLAS library found";
  const coreNote = openblas ? `, core ${core ?? "unknown"} ${how}` : "";
  let why = null;
  if (!openblas) why = "the reference BLAS";
  else if (!enough(core, wanted)) why = `OpenBLAS core ${core ?? "unknown"} where the CPU allows ${wanted.core}`;
  else if (!(info.err < 1e-4)) why = `float32 products off by ${info.err}`;
  const threads = base.OPENBLAS_NUM_THREADS ? `${base.OPENBLAS_NUM_THREADS} (OPENBLAS_NUM_THREADS)` : "all cores";
  return {
    env,
    line: `Python peers: numpy ${info.numpy}, torch ${info.torch}, ${blas}${coreNote}, threads ${threads}${why ? `: NOT COMPARABLE (${why})` : ""}`,
    comparable: why === null,
    why,
  };
}
