import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import * as kl from "kernel-lib";
import { CHECKS, Tensor, opTable, type OpEntry } from "kernel-lib";

// The op table is the one list of tensor ops: the methods, the free
// functions and the README's list of ops all follow it.

const entries = Object.entries(opTable) as Array<[string, OpEntry]>;
const readme = readFileSync(path.join(__dirname, "..", "README.md"), "utf8");

describe("the op table", () => {
  it("installs a method (or getter) on Tensor for every entry that is one, and no other", () => {
    for (const [name, e] of entries) {
      const d = Object.getOwnPropertyDescriptor(Tensor.prototype, name);
      if (e.method === "getter") expect(typeof d?.get, name).toBe("function");
      else if (e.method) expect(typeof d?.value, name).toBe("function");
      else expect(d, name).toBeUndefined();
    }
  });

  it("gives kernel-lib's free functions: exactly the entries marked free", () => {
    const exported = entries.filter(([name]) => typeof (kl as Record<string, unknown>)[name] === "function").map(([n]) => n);
    const free = entries.filter(([, e]) => e.free).map(([n]) => n);
    // scalar add/sub/mul/div/sum (the Variable engine's) share names with tensor methods
    const scalar = ["add", "sub", "mul", "div", "sum"];
    expect(exported.filter((n) => !scalar.includes(n)).sort()).toEqual(free.sort());
    for (const name of free) expect((kl as Record<string, unknown>)[name], name).toBe(opTable[name as keyof typeof opTable].fn);
  });

  it("says which checks each kind of op needs", () => {
    for (const [name, e] of entries) expect(CHECKS[e.kind], name).toBeDefined();
    expect(entries.filter(([, e]) => e.kind === "elementwise" && e.arity !== undefined && e.domain === undefined)).toEqual([]);
  });

  it("is what the README lists", () => {
    const section = readme.slice(readme.indexOf("- Ops: "), readme.indexOf("- Autograd: "));
    const words = new Set(section.match(/[A-Za-z_][A-Za-z0-9_]*/g));
    const listed = (kind: string[]) => entries.filter(([, e]) => kind.includes(e.kind)).map(([n]) => n);
    const math = listed(["elementwise", "comparison", "reduction", "index-reduction", "product", "movement", "join", "loss"]);
    expect(math.filter((n) => !words.has(n)), "ops missing from the README's Ops list").toEqual([]);
    const sentence = section.slice(section.indexOf("Methods ("), section.indexOf("are also free functions"));
    const freeListed = (sentence.match(/`([^`]*)`/g) ?? []).flatMap((s) => s.slice(1, -1).split(/\s+/)).filter((w) => /^[a-zA-Z0-9]+$/.test(w));
    expect(freeListed.sort(), "the README's list of free functions").toEqual(entries.filter(([, e]) => e.free).map(([n]) => n).sort());
  });
});

describe("the op table's methods", () => {
  it("mark every op that takes a spread-out list as variadic (the others get at most four arguments)", () => {
    for (const [name, e] of entries) {
      if (!e.method || e.method === "getter") continue;
      const takesRest = /^[^(]*\([^)]*\.\.\./.test(String(e.fn));
      expect(e.variadic === true, `${name} takes ${takesRest ? "a rest parameter" : "fixed parameters"}`).toBe(takesRest);
    }
  });

  it("pass their arguments on: a spread-out shape, a list, and trailing defaults", () => {
    const x = kl.arange(6);
    expect(x.reshape(2, 3).shape).toEqual([2, 3]);
    expect(x.reshape([3, 2]).shape).toEqual([3, 2]);
    expect(x.reshape(1, 2, 1, 3).permute(3, 2, 1, 0).shape).toEqual([3, 1, 2, 1]);
    expect(x.reshape(2, 3).sum(1, true).shape).toEqual([2, 1]);
    expect(x.allclose(x.add(1e-9), 1e-5, 1e-8)).toBe(true);
  });
});
