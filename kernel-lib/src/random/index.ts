/**
 * A small seeded generator (mulberry32), so that lessons, tests and the
 * benchmark peers in other languages draw the very same numbers.
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`Random: the seed must be an integer, got ${seed}`);
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  random(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    const a = this.state;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A float in [low, high). */
  uniform(low: number, high: number): number {
    if (!(high > low)) throw new RangeError(`uniform: need low < high, got [${low}, ${high})`);
    return low + (high - low) * this.random();
  }
}

/** Shorthand for `new Random(seed)`. */
export function seededRandom(seed: number): Random {
  return new Random(seed);
}
