import { noGrad } from "../tensor/autograd";
import { Tensor as TensorClass, zerosLike, type Device } from "../tensor";

type Tensor = TensorClass<Device>;
const Tensor = TensorClass;

/** Shared parts of an optimizer: the parameters, and zeroing their gradients. */
export abstract class Optimizer {
  readonly params: Tensor[];
  constructor(params: Iterable<Tensor>, name: string) {
    this.params = [...params];
    if (this.params.length === 0) throw new Error(`${name}: got an empty parameter list`);
    for (const p of this.params) {
      if (!(p instanceof Tensor)) throw new TypeError(`${name}: parameters must be tensors`);
      if (!p.requiresGrad) throw new Error(`${name}: a parameter of shape [${p.shape.join(", ")}] does not require grad`);
      if (!p.isLeaf) throw new Error(`${name}: a parameter must be a leaf tensor (create it with requiresGrad, not compute it)`);
    }
  }

  /** Forget the gradients (set to null, as torch does by default; GPU memory is freed now). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Update every parameter that has a gradient. */
  step(): void {
    noGrad(() => this.params.forEach((p, i) => p.grad && this.update(p, p.grad, i)));
  }

  protected abstract update(p: Tensor, grad: Tensor, i: number): void;
}

function checkRate(name: string, what: string, v: number, lo = 0): void {
  if (!Number.isFinite(v) || v < lo) throw new RangeError(`${name}: ${what} must be a finite number >= ${lo}, got ${v}`);
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
}

/** Stochastic gradient descent with optional momentum and weight decay (torch's update rule). */
export class SGD extends Optimizer {
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  private velocity: Tensor[];

  constructor(params: Iterable<Tensor>, options: SGDOptions) {
    super(params, "SGD");
    this.lr = options.lr;
    this.momentum = options.momentum ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
    checkRate("SGD", "lr", this.lr);
    checkRate("SGD", "momentum", this.momentum);
    checkRate("SGD", "weightDecay", this.weightDecay);
    // State lives in tensors made now and updated in place, so it survives tidy().
    this.velocity = this.momentum ? this.params.map((p) => zerosLike(p)) : [];
  }

  protected update(p: Tensor, grad: Tensor, i: number): void {
    let g = this.weightDecay ? grad.add(p.mul(this.weightDecay)) : grad;
    if (this.momentum) {
      // v starts at zero, so the first step takes v = g, as torch does
      g = this.velocity[i].mul_(this.momentum).add_(g);
    }
    p.sub_(g.mul(this.lr));
  }
}

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** Adam (Kingma & Ba), with torch's defaults. */
export class Adam extends Optimizer {
  readonly lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  private m: Tensor[];
  private v: Tensor[];
  private t = 0;

  constructor(params: Iterable<Tensor>, options: AdamOptions = {}) {
    super(params, "Adam");
    this.lr = options.lr ?? 1e-3;
    this.betas = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    checkRate("Adam", "lr", this.lr);
    checkRate("Adam", "eps", this.eps);
    checkRate("Adam", "weightDecay", this.weightDecay);
    for (const b of this.betas) if (!(b >= 0 && b < 1)) throw new RangeError(`Adam: betas must be in [0, 1), got [${this.betas}]`);
    this.m = this.params.map((p) => zerosLike(p));
    this.v = this.params.map((p) => zerosLike(p));
  }

  override step(): void {
    this.t++;
    super.step();
  }

  protected update(p: Tensor, grad: Tensor, i: number): void {
    const [b1, b2] = this.betas;
    const g = this.weightDecay ? grad.add(p.mul(this.weightDecay)) : grad;
    this.m[i].mul_(b1).add_(g.mul(1 - b1));
    this.v[i].mul_(b2).add_(g.mul(g).mul(1 - b2));
    const mHat = this.m[i].div(1 - b1 ** this.t);
    const vHat = this.v[i].div(1 - b2 ** this.t);
    p.sub_(mHat.div(vHat.sqrt().add(this.eps)).mul(this.lr));
  }
}
