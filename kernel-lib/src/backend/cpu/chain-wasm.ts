import type { Program } from "../backend";
import { MAX_PAGES } from "./wasm";

/**
 * A fused chain of float32 ops compiled to its own small WebAssembly
 * function over the kernels' shared memory: each group of four values is
 * loaded once, every step runs on it in registers, and the result is stored
 * (or summed) once. An interpreter that ran the chain step by step over
 * blocks was no faster than the ops one at a time: V8 spends a few cycles on
 * each loop iteration, whatever the iteration does, so the loop must do the
 * whole chain. Only the ops whose float32 results match the JavaScript loops
 * bit for bit are here (the others run as a compiled JavaScript chain).
 *
 * The function takes, in order: per input a byte offset or its value (f32,
 * one value broadcast), then the output's byte offset, the number of rows and
 * the row length. An input is read contiguously ("c"), as one row that every
 * row reads again ("r": a bias against a batch), or as one value ("s"). Without a sum it writes rows x R
 * values; with one it writes one float32 sum per row, accumulated exactly as
 * assembly/elementwise.ts's rowSum does (two f64x2 running sums over groups
 * of four, combined, then the tail), so that the result is the same bit for
 * bit as the chain stored and then summed.
 */
export type ChainFn = (...args: number[]) => void;

/** The ops compiled here (pow only as a square: the backend passes "square"). */
export type ChainOp = "add" | "sub" | "mul" | "div" | "neg" | "abs" | "relu" | "sign" | "copy" | "square";
export const CHAIN_OPS: ReadonlySet<string> = new Set<ChainOp>(["add", "sub", "mul", "div", "neg", "abs", "relu", "sign", "copy", "square"]);

// Opcodes (core and, after the 0xfd prefix, SIMD).
const OP = {
  block: 0x02, loop: 0x03, end: 0x0b, br: 0x0c, brIf: 0x0d, drop: 0x1a, select: 0x1b,
  localGet: 0x20, localSet: 0x21,
  f32Load: 0x2a, f32Store: 0x38, i32Const: 0x41, f32Const: 0x43,
  i32GeU: 0x4f, f32Lt: 0x5d, f32Gt: 0x5e,
  i32Add: 0x6a, i32Shl: 0x74, i32And: 0x71,
  f32Abs: 0x8b, f32Neg: 0x8c, f32Add: 0x92, f32Sub: 0x93, f32Mul: 0x94, f32Div: 0x95,
  f64Add: 0xa0, f32DemoteF64: 0xb6, f64PromoteF32: 0xbb,
} as const;
const SIMD = {
  load: 0x00, store: 0x0b, const: 0x0c, shuffle: 0x0d, f32x4Splat: 0x13, f64x2ExtractLane: 0x21,
  f32x4Lt: 0x43, f32x4Gt: 0x44, and: 0x4e, bitselect: 0x52, f64x2PromoteLow: 0x5f,
  f32x4Abs: 0xe0, f32x4Neg: 0xe1, f32x4Add: 0xe4, f32x4Sub: 0xe5, f32x4Mul: 0xe6, f32x4Div: 0xe7, f64x2Add: 0xf0,
} as const;
const [I32, F32, F64, V128] = [0x7f, 0x7d, 0x7c, 0x7b];

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
};
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const bytesOf = (s: string): number[] => [...Buffer.from(s, "utf8")];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const MEMARG = [0, 0]; // (alignment hint 1, offset 0)
const f32Bytes = (x: number): number[] => [...new Uint8Array(Float32Array.of(x).buffer)];
const splat = (x: number): number[] => [...simd(SIMD.const), ...f32Bytes(x), ...f32Bytes(x), ...f32Bytes(x), ...f32Bytes(x)];

/** The module (bytes) of the function for chain `p` over inputs of `layouts` (c, r or s), with the op of each step given by `ops`; it imports env.memory and exports "chain". */
export function chainModule(p: Program, ops: readonly ChainOp[], layouts: readonly string[], sum: boolean): Uint8Array {
  const nIn = p.inputs;
  // locals: params (per input a pointer or value), out, rows, R; then r, o, end, endAll, acc, s0, s1, one v128 per value, one f32 per value
  const params = layouts.map((l) => (l === "s" ? F32 : I32));
  const [OUT, ROWS, RLEN] = [nIn, nIn + 1, nIn + 2];
  const [ROW, O, END, ENDALL, ACC, S0, S1] = [nIn + 3, nIn + 4, nIn + 5, nIn + 6, nIn + 7, nIn + 8, nIn + 9];
  const nValues = nIn + p.steps.length;
  const V = (j: number) => nIn + 10 + j; // v128 of value j
  const F = (j: number) => nIn + 10 + nValues + j; // f32 of value j
  const localDecls = [
    [4, I32],
    [1, F64],
    [2 + nValues, V128],
    [nValues, F32],
  ];
  const c: number[] = [];
  const get = (i: number) => c.push(OP.localGet, ...uleb(i));
  const set = (i: number) => c.push(OP.localSet, ...uleb(i));
  const i32 = (n: number) => c.push(OP.i32Const, ...sleb(n));

  // the broadcast values, splatted once
  layouts.forEach((l, j) => {
    if (l !== "s") return;
    get(j);
    c.push(...simd(SIMD.f32x4Splat));
    set(V(j));
    get(j);
    set(F(j));
  });
  const stepVector = (s: number) => {
    const { args } = p.steps[s];
    const op = ops[s];
    const a = args[0];
    const b = args[1] ?? a;
    get(V(a));
    switch (op) {
      case "add": case "sub": case "mul": case "div":
        get(V(b));
        c.push(...simd({ add: SIMD.f32x4Add, sub: SIMD.f32x4Sub, mul: SIMD.f32x4Mul, div: SIMD.f32x4Div }[op]));
        break;
      case "square": get(V(a)); c.push(...simd(SIMD.f32x4Mul)); break;
      case "neg": c.push(...simd(SIMD.f32x4Neg)); break;
      case "abs": c.push(...simd(SIMD.f32x4Abs)); break;
      case "relu": // a & (a > 0): NaN and -0 give +0, as the loops
        get(V(a));
        c.push(...simd(SIMD.const), ...new Array<number>(16).fill(0), ...simd(SIMD.f32x4Gt), ...simd(SIMD.and));
        break;
      case "sign": // 1 where a > 0, -1 where a < 0, else a itself (zeros, NaN), as the loops
        c.push(OP.drop, ...splat(1));
        get(V(a)); get(V(a)); c.push(...splat(0), ...simd(SIMD.f32x4Gt), ...simd(SIMD.bitselect));
        set(V(nIn + s));
        c.push(...splat(-1));
        get(V(nIn + s)); get(V(a)); c.push(...splat(0), ...simd(SIMD.f32x4Lt), ...simd(SIMD.bitselect));
        break;
      case "copy": break;
    }
    set(V(nIn + s));
  };
  const stepScalar = (s: number) => {
    const { args } = p.steps[s];
    const op = ops[s];
    const a = args[0];
    const b = args[1] ?? a;
    get(F(a));
    switch (op) {
      case "add": case "sub": case "mul": case "div":
        get(F(b));
        c.push({ add: OP.f32Add, sub: OP.f32Sub, mul: OP.f32Mul, div: OP.f32Div }[op]);
        break;
      case "square": get(F(a)); c.push(OP.f32Mul); break;
      case "neg": c.push(OP.f32Neg); break;
      case "abs": c.push(OP.f32Abs); break;
      case "relu": c.push(OP.f32Const, 0, 0, 0, 0); get(F(a)); c.push(OP.f32Const, 0, 0, 0, 0, OP.f32Gt, OP.select); break;
      case "sign":
        c.push(OP.drop, OP.f32Const, ...f32Bytes(1), OP.f32Const, ...f32Bytes(-1));
        get(F(a)); get(F(a)); c.push(OP.f32Const, ...f32Bytes(0), OP.f32Lt, OP.select);
        get(F(a)); c.push(OP.f32Const, ...f32Bytes(0), OP.f32Gt, OP.select);
        break;
      case "copy": break;
    }
    set(F(nIn + s));
  };
  const last = nValues - 1;

  // end = (R & ~3) * 4, endAll = R * 4
  get(RLEN); i32(~3); c.push(OP.i32And); i32(2); c.push(OP.i32Shl); set(END);
  get(RLEN); i32(2); c.push(OP.i32Shl); set(ENDALL);
  i32(0); set(ROW);
  c.push(OP.block, 0x40, OP.loop, 0x40); // rows
  get(ROW); get(ROWS); c.push(OP.i32GeU, OP.brIf, 1);
  if (sum) {
    c.push(...simd(SIMD.const), ...new Array<number>(16).fill(0)); set(S0);
    c.push(...simd(SIMD.const), ...new Array<number>(16).fill(0)); set(S1);
  }
  i32(0); set(O);
  // groups of four
  c.push(OP.block, 0x40, OP.loop, 0x40);
  get(O); get(END); c.push(OP.i32GeU, OP.brIf, 1);
  layouts.forEach((l, j) => {
    if (l === "s") return;
    get(j); get(O); c.push(OP.i32Add, ...simd(SIMD.load), ...MEMARG);
    set(V(j));
  });
  for (let s = 0; s < p.steps.length; s++) stepVector(s);
  if (sum) {
    get(S0); get(V(last)); c.push(...simd(SIMD.f64x2PromoteLow), ...simd(SIMD.f64x2Add)); set(S0);
    get(S1); get(V(last)); get(V(last));
    c.push(...simd(SIMD.shuffle), 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    c.push(...simd(SIMD.f64x2PromoteLow), ...simd(SIMD.f64x2Add)); set(S1);
  } else {
    get(OUT); get(O); c.push(OP.i32Add); get(V(last)); c.push(...simd(SIMD.store), ...MEMARG);
  }
  get(O); i32(16); c.push(OP.i32Add); set(O);
  c.push(OP.br, 0, OP.end, OP.end);
  if (sum) {
    // s0[0] + s1[0] + (s0[1] + s1[1])
    get(S0); c.push(...simd(SIMD.f64x2ExtractLane), 0); get(S1); c.push(...simd(SIMD.f64x2ExtractLane), 0, OP.f64Add);
    get(S0); c.push(...simd(SIMD.f64x2ExtractLane), 1); get(S1); c.push(...simd(SIMD.f64x2ExtractLane), 1, OP.f64Add, OP.f64Add);
    set(ACC);
  }
  // the tail, one value at a time
  c.push(OP.block, 0x40, OP.loop, 0x40);
  get(O); get(ENDALL); c.push(OP.i32GeU, OP.brIf, 1);
  layouts.forEach((l, j) => {
    if (l === "s") return;
    get(j); get(O); c.push(OP.i32Add, OP.f32Load, ...MEMARG);
    set(F(j));
  });
  for (let s = 0; s < p.steps.length; s++) stepScalar(s);
  if (sum) {
    get(ACC); get(F(last)); c.push(OP.f64PromoteF32, OP.f64Add); set(ACC);
  } else {
    get(OUT); get(O); c.push(OP.i32Add); get(F(last)); c.push(OP.f32Store, ...MEMARG);
  }
  get(O); i32(4); c.push(OP.i32Add); set(O);
  c.push(OP.br, 0, OP.end, OP.end);
  // the next row
  if (sum) {
    get(OUT); get(ACC); c.push(OP.f32DemoteF64, OP.f32Store, ...MEMARG);
    get(OUT); i32(4); c.push(OP.i32Add); set(OUT);
  } else {
    get(OUT); get(ENDALL); c.push(OP.i32Add); set(OUT);
  }
  layouts.forEach((l, j) => {
    if (l !== "c") return;
    get(j); get(ENDALL); c.push(OP.i32Add); set(j);
  });
  get(ROW); i32(1); c.push(OP.i32Add); set(ROW);
  c.push(OP.br, 0, OP.end, OP.end);
  c.push(OP.end);

  const body = [...vec(localDecls.map(([n, t]) => [...uleb(n), t])), ...c];
  const type = [0x60, ...vec(params.concat([I32, I32, I32]).map((t) => [t])), 0];
  const module = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([type])),
    ...section(2, vec([[...uleb(3), ...bytesOf("env"), ...uleb(6), ...bytesOf("memory"), 0x02, 0x03, ...uleb(1), ...uleb(MAX_PAGES)]])),
    ...section(3, vec([uleb(0)])),
    ...section(7, vec([[...uleb(5), ...bytesOf("chain"), 0x00, 0x00]])),
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ];
  return new Uint8Array(module);
}
