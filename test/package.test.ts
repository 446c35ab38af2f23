import { describe, expect, it } from "vitest";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { execFile } from "node:child_process";

// A course repository of its own: kernel-lib packed with `npm pack`, installed
// into a folder that holds only a package.json and a notebook, gives the
// kernel registration, kernel-lib-run, kernel-lib-student and the library
// (types included) inside cells, without any file of this repository.
const repo = path.join(__dirname, "..");

/** Run a command; its exit code and output. npm's own variables from `npm test` stay out of it. */
function run(cmd: string, args: string[], cwd: string): Promise<{ code: number; out: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_")));
  return new Promise((resolve) =>
    execFile(cmd, args, { cwd, env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: stdout + stderr })),
  );
}

const code = (id: string, source: string, tags: string[] = []) => ({ cell_type: "code", id, metadata: tags.length ? { tags } : {}, execution_count: null, outputs: [], source });

describe("kernel-lib as a package a course installs", () => {
  it("npm pack's tarball, installed into a fresh course folder, registers the kernel and runs, checks and splits its notebooks", async () => {
    mkdirSync(path.join(repo, "test-output"), { recursive: true });
    const root = mkdtempSync(path.join(repo, "test-output", "course-"));
    const packed = await run("npm", ["pack", "--pack-destination", root], path.join(repo, "kernel-lib"));
    expect(packed.code, packed.out).toBe(0);
    const tarball = readdirSync(root).find((f) => /^kernel-lib-.*\.tgz$/.test(f))!;
    expect(tarball, packed.out).toBeDefined();

    const course = path.join(root, "course");
    mkdirSync(course);
    // what the README's course setup writes
    writeFileSync(
      path.join(course, "package.json"),
      JSON.stringify({ name: "my-course", private: true, dependencies: { "kernel-lib": `file:../${tarball}` }, allowScripts: { zeromq: true, webgpu: true } }, null, 2),
    );
    const notebook = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: "tslab", display_name: "TypeScript (tslab)", language: "typescript" } },
      cells: [
        code("use", 'import { Variable, check, plot } from "kernel-lib";\nconst a = new Variable(3);\na.mul(a).backward();\nconsole.log(`da = ${a.grad}`);'),
        code("exercise", "function double(x: number): number {\n  // BEGIN SOLUTION: return twice x\n  return 2 * x;\n  // END SOLUTION\n}", ["solution"]),
        code("check", 'check("double(4)", () => double(4), 8);'),
        // kernel-lib's types reach the cells: a wrong one is a type error
        code("types", "const wrong: string = a.grad;", ["raises-exception"]),
        // the patched tslab (TypeScript 5.9 with Node's own library) although this install's tslab is unpatched
        code("modern", "console.log([3, 1, 2].toSorted().join(' '));"),
        code("figure", "plot.figure({ title: 'loss' }).line([1, 2, 3], [3, 2, 1]).show();"),
      ],
    };
    writeFileSync(path.join(course, "lesson.ipynb"), JSON.stringify(notebook, null, 1));

    const installed = await run("npm", ["install", "--no-audit", "--no-fund"], course);
    expect(installed.code, installed.out).toBe(0);
    const lib = path.join(course, "node_modules", "kernel-lib");
    expect(lstatSync(lib).isSymbolicLink()).toBe(false); // a copy from the tarball, not this repository's workspace
    expect(existsSync(path.join(lib, "dist", "index.d.ts"))).toBe(true);
    expect(existsSync(path.join(lib, "dist", "wasm", "matmul.wasm"))).toBe(true);
    // npm installed tslab as published: the fixes come from kernel-lib's preload
    expect(readFileSync(path.join(course, "node_modules", "tslab", "dist", "executor.js"), "utf8")).not.toContain("A name whose declaration never ran");

    const bin = (name: string) => path.join(course, "node_modules", ".bin", name);
    const registered = await run(bin("kernel-lib-kernelspec"), [], course);
    expect(registered.code, registered.out).toBe(0);
    const spec = JSON.parse(readFileSync(path.join(course, ".jupyter-local", "share", "jupyter", "kernels", "tslab", "kernel.json"), "utf8"));
    expect(spec.argv.join(" ")).toContain(path.join(course, "node_modules", "kernel-lib", "dist", "tslab", "preload.js"));
    expect(spec.argv.join(" ")).not.toContain(path.join(repo, "kernel-lib"));

    const ran = await run(bin("kernel-lib-run"), ["--write", path.join(course, "out"), "lesson.ipynb"], course);
    expect(ran.code, ran.out).toBe(0);
    const cells = JSON.parse(readFileSync(path.join(course, "out", "lesson.ipynb"), "utf8")).cells;
    const text = (i: number) => cells[i].outputs.map((o: { text?: string; evalue?: string }) => o.text ?? o.evalue ?? "").join("");
    expect(text(0)).toBe("da = 6\n");
    expect(text(2)).toMatch(/^✓ double\(4\)/);
    expect(text(3)).toContain("Type 'number' is not assignable to type 'string'");
    expect(text(4)).toBe("1 2 3\n");
    expect(Object.keys(cells[5].outputs[0].data)).toContain("application/vnd.plotly.v1+json");

    const student = await run(bin("kernel-lib-student"), [".", "student"], course);
    expect(student.code, student.out).toBe(0);
    const stub = JSON.parse(readFileSync(path.join(course, "student", "lesson.ipynb"), "utf8")).cells.find((c: { id: string }) => c.id === "exercise");
    expect(stub.source).toContain('throw new Error("TODO:');
    expect(stub.source).not.toContain("return 2 * x");
  }, 600_000);
});
