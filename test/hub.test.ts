import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSanitizers, runNotebook, type NotebookResult } from "kernel-lib/runner";
import { freePorts } from "../kernel-lib/src/runner/ports";

// A class on one JupyterHub (hub/jupyterhub_config.py, Debian's JupyterHub 3):
// 20 students log in, their servers start, and each runs lesson 01 through the
// hub's REST API and the kernel's websocket, all at once; one student's kernel
// is killed in the middle.

const root = path.resolve(__dirname, "..");
const JUPYTERHUB = "/usr/bin/jupyterhub";
const haveHub = existsSync(JUPYTERHUB) && existsSync("/usr/bin/configurable-http-proxy");
const STUDENTS = Array.from({ length: 20 }, (_, i) => `s${String(i + 1).padStart(2, "0")}`);
const VICTIM = "s07";
const KILL_AT_CELL = 20;
const lesson = path.join(root, "notebooks", "01-automatic-differentiation.ipynb");
// inside the repository, so `import "kernel-lib"` resolves from the homes
const work = path.join(root, "test-output", "hub");
const homes = path.join(work, "homes");
const ADMIN = "course-admin-token-for-the-test";
const PASSWORD = "class-password";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let hub: ChildProcess | null = null;
let hubLog = "";
let base = "";

async function api(method: string, route: string, body?: unknown): Promise<any> {
  const res = await fetch(`${base}/hub/api/${route}`, {
    method,
    headers: { Authorization: `token ${ADMIN}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${route}: HTTP ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The running tslab kernel processes by working folder (a student's home): their pids. */
function kernelsByHome(): Map<string, number[]> {
  const byHome = new Map<string, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8");
      if (!cmd.includes("tslab") || !cmd.includes("kernel")) continue;
      const home = readlinkSync(`/proc/${name}/cwd`);
      byHome.set(home, [...(byHome.get(home) ?? []), Number(name)]);
    } catch {
      // the process ended
    }
  }
  return byHome;
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};

describe.skipIf(!haveHub && process.env.CI !== "true")("a class of 20 on one JupyterHub (hub/)", () => {
  beforeAll(async () => {
    if (!haveHub) throw new Error(`CI needs Debian's jupyterhub and node-configurable-http-proxy (${JUPYTERHUB})`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const [port, hubPort, proxyPort] = await freePorts(3);
    base = `http://127.0.0.1:${port}`;
    hub = spawn(
      JUPYTERHUB,
      ["-f", path.join(root, "hub", "jupyterhub_config.py"), `--port=${port}`, `--JupyterHub.hub_port=${hubPort}`, `--ConfigurableHTTPProxy.api_url=http://127.0.0.1:${proxyPort}`],
      {
        cwd: work,
        env: { ...process.env, KERNEL_LIB_HUB_HOMES: homes, KERNEL_LIB_HUB_STATE: path.join(work, "state"), KERNEL_LIB_HUB_ADMIN_TOKEN: ADMIN, KERNEL_LIB_HUB_PASSWORD: PASSWORD },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const keep = (b: Buffer) => (hubLog = (hubLog + b.toString()).slice(-20000));
    hub.stdout!.on("data", keep);
    hub.stderr!.on("data", keep);
    for (let t = Date.now(); ; await sleep(500)) {
      if (hub.exitCode !== null) throw new Error(`the hub exited:\n${hubLog}`);
      if (Date.now() - t > 90_000) throw new Error(`the hub did not answer in 90 s:\n${hubLog}`);
      const ok = await fetch(`${base}/hub/api/`).then((r) => r.ok, () => false);
      if (ok) break;
    }
  }, 120_000);

  afterAll(async () => {
    if (hub && hub.exitCode === null) {
      // The hub stops the servers it spawned and its proxy when it ends.
      hub.kill("SIGTERM");
      await Promise.race([new Promise((r) => hub!.once("exit", r)), sleep(20_000)]);
      if (hub.exitCode === null) hub.kill("SIGKILL");
    }
  }, 60_000);

  it("logs students in with the class password and turns a wrong one away", async () => {
    for (const name of STUDENTS) {
      const res = await fetch(`${base}/hub/login`, {
        method: "POST",
        body: new URLSearchParams({ username: name, password: PASSWORD }),
        redirect: "manual",
      });
      expect(res.status, `${name} logging in`).toBe(302);
      expect(res.headers.getSetCookie().some((c) => c.startsWith("jupyterhub-hub-login="))).toBe(true);
    }
    const wrong = await fetch(`${base}/hub/login`, { method: "POST", body: new URLSearchParams({ username: "s99", password: "guess" }), redirect: "manual" });
    expect(wrong.status).toBe(200); // the login page again, with its error
    expect(wrong.headers.getSetCookie().some((c) => c.startsWith("jupyterhub-hub-login="))).toBe(false);
    const users = (await api("GET", "users")) as Array<{ name: string }>;
    expect(users.map((u) => u.name).sort()).toEqual(STUDENTS);
  });

  it("runs lesson 01 for all 20 at once through the hub; a killed kernel costs only its student", async () => {
    // All servers asked for at once, as a class arriving does.
    const t0 = Date.now();
    await Promise.all(STUDENTS.map((name) => api("POST", `users/${name}/server`)));
    for (;;) {
      const users = (await api("GET", "users")) as Array<{ name: string; servers: Record<string, { ready: boolean }> }>;
      if (users.every((u) => u.servers[""]?.ready)) break;
      if (Date.now() - t0 > 300_000) throw new Error(`servers not ready after 300 s:\n${hubLog.slice(-4000)}`);
      await sleep(1000);
    }
    const spawnMs = Date.now() - t0;
    // Each server starts in the student's own copy of the student versions.
    const studentVersions = readdirSync(path.join(root, "student")).filter((f) => f.endsWith(".ipynb")).sort();
    expect(studentVersions.length).toBeGreaterThan(0);
    for (const name of STUDENTS) {
      for (const f of studentVersions) {
        expect(readFileSync(path.join(homes, name, f), "utf8")).toBe(readFileSync(path.join(root, "student", f), "utf8"));
      }
    }

    const tokens = Object.fromEntries(
      await Promise.all(STUDENTS.map(async (name) => [name, ((await api("POST", `users/${name}/tokens`, { note: "class test" })) as { token: string }).token] as const)),
    );
    // A token of another student's is refused, by name.
    const refused = await runNotebook(lesson, { server: { url: `${base}/user/s01/`, token: tokens.s02 }, log: () => {} });
    expect(refused.passed).toBe(false);
    expect(refused.failure?.message).toMatch(/HTTP (403|302)|token/);

    const sanitizers = loadSanitizers(path.join(root, "notebooks", "outputs.sanitize"));
    const rss = new Map<string, number>();
    const victimPids: number[] = [];
    let victimTransport: unknown = null;
    const sampler = setInterval(() => {
      const kernels = kernelsByHome();
      for (const name of STUDENTS) {
        for (const pid of kernels.get(path.join(homes, name)) ?? []) rss.set(name, Math.max(rss.get(name) ?? 0, rssMiB(pid)));
      }
    }, 500);
    const perStudentMs = new Map<string, number>();
    const runStart = Date.now();
    const results = await Promise.all(
      STUDENTS.map(async (name): Promise<[string, NotebookResult]> => {
        const start = Date.now();
        const r = await runNotebook(lesson, {
          server: { url: `${base}/user/${name}/`, token: tokens[name] },
          checkOutputs: "all",
          sanitizers,
          startupTimeoutMs: 180_000,
          cellTimeoutMs: 300_000,
          log:
            name === VICTIM
              ? (line) => {
                  // Kill the kernel process in the middle of the lesson.
                  if (line.includes(`[${KILL_AT_CELL}/`) && victimPids.length === 0) {
                    victimPids.push(...(kernelsByHome().get(path.join(homes, name)) ?? []));
                    // (and note how it talks to its server: its connection file follows --config-path)
                    const argv = readFileSync(`/proc/${victimPids[0]}/cmdline`, "utf8").split("\0");
                    victimTransport = JSON.parse(readFileSync(argv[argv.indexOf("--config-path") + 1], "utf8")).transport;
                    for (const pid of victimPids) process.kill(pid, "SIGKILL");
                  }
                }
              : () => {},
        });
        perStudentMs.set(name, Date.now() - start);
        return [name, r];
      }),
    );
    const wallMs = Date.now() - runStart;
    clearInterval(sampler);

    expect(victimPids.length).toBe(1);
    // kernels on Unix sockets: on TCP, servers that start kernels at once can pick the same port (hub/jupyterhub_config.py)
    expect(victimTransport).toBe("ipc");
    for (const [name, r] of results) {
      if (name === VICTIM) {
        expect(r.passed).toBe(false);
        expect(r.failure?.reason).toBe("died");
        expect(r.failure?.codeCell).toBeGreaterThan(KILL_AT_CELL);
        expect(r.executed).toBeLessThan(58);
      } else {
        expect(r.failures.map((f) => `${f.reason} in code cell ${f.codeCell}: ${f.message.slice(0, 300)}`), name).toEqual([]);
        expect(r.executed, name).toBe(58);
      }
    }

    // That student's new kernel runs the whole lesson.
    const again = await runNotebook(lesson, { server: { url: `${base}/user/${VICTIM}/`, token: tokens[VICTIM] }, checkOutputs: "all", sanitizers, log: () => {} });
    expect(again.failures).toEqual([]);
    expect(again.executed).toBe(58);

    const others = STUDENTS.filter((n) => n !== VICTIM).map((n) => perStudentMs.get(n)!);
    const kernelRss = [...rss.values()];
    const report = {
      students: STUDENTS.length,
      spawnAllServersS: spawnMs / 1000,
      lessonWallS: wallMs / 1000,
      perStudentP50S: quantile(others, 0.5) / 1000,
      perStudentP95S: quantile(others, 0.95) / 1000,
      kernelRssMiBMedian: quantile(kernelRss, 0.5),
      kernelRssMiBMax: Math.max(...kernelRss),
      victimRerunS: again.ms / 1000,
    };
    writeFileSync(path.join(root, "test-output", "hub-report.json"), JSON.stringify(report, null, 2) + "\n");
    console.log(`hub class run: ${JSON.stringify(report)}`);
    expect(kernelRss.length).toBe(STUDENTS.length);
  }, 900_000);
});
