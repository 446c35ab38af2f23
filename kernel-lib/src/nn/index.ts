import { inspect } from "node:util";
import { noGrad } from "../tensor/autograd";
import { nextRandom } from "../tensor/random";
import { Tensor as TensorClass, type Device } from "../tensor";
import { defaultDevice, fromValues } from "../tensor/engine";
import { matmulTransposed } from "../tensor/ops";

type Tensor = TensorClass<Device>;
const Tensor = TensorClass;

/** A layer or model: `forward`, and the parameters an optimizer updates. */
export abstract class Module {
  protected abstract forwardAny(x: Tensor): Tensor;

  /** Apply the module (the result is on the input's device). */
  forward<D extends Device>(x: TensorClass<D>): TensorClass<D> {
    return this.forwardAny(x as Tensor) as TensorClass<D>;
  }

  /** Move every parameter to `device` (each becomes a new leaf there); returns this. */
  to(device: Device): this {
    for (const [key, v] of Object.entries(this)) {
      if (v instanceof Tensor && v.requiresGrad) (this as Record<string, unknown>)[key] = (v as Tensor).detach().to(device).requiresGrad_();
      else if (v instanceof Module) v.to(device);
      else if (Array.isArray(v)) for (const m of v) if (m instanceof Module) m.to(device);
    }
    return this;
  }

  /** Every parameter of this module and its sub-modules. */
  parameters(): Tensor[] {
    const out: Tensor[] = [];
    for (const v of Object.values(this)) {
      if (v instanceof Tensor && v.requiresGrad) out.push(v);
      else if (v instanceof Module) out.push(...v.parameters());
      else if (Array.isArray(v)) for (const m of v) if (m instanceof Module) out.push(...m.parameters());
    }
    return out;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }
}

function uniform(shape: number[], bound: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return fromValues(Array.from({ length: n }, () => (2 * nextRandom() - 1) * bound), shape, "float32", defaultDevice()).requiresGrad_();
}

/** y = x Wᵀ + b, initialised like torch (uniform in ±1/√inFeatures). */
export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: { bias?: boolean } = {},
  ) {
    super();
    if (!Number.isInteger(inFeatures) || !Number.isInteger(outFeatures) || inFeatures < 1 || outFeatures < 1) {
      throw new RangeError(`Linear: feature counts must be positive integers, got ${inFeatures} and ${outFeatures}`);
    }
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = uniform([outFeatures, inFeatures], bound);
    this.bias = options.bias === false ? null : uniform([outFeatures], bound);
  }
  protected forwardAny(x: Tensor): Tensor {
    if (x.shape[x.ndim - 1] !== this.inFeatures) {
      throw new RangeError(`Linear(${this.inFeatures}, ${this.outFeatures}): input has ${x.shape[x.ndim - 1]} features (shape [${x.shape.join(", ")}])`);
    }
    const y = matmulTransposed(x, this.weight);
    return this.bias ? y.add(this.bias) : y;
  }
  [inspect.custom](): string {
    return `Linear(inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null})`;
  }
}

export class ReLU extends Module {
  protected forwardAny(x: Tensor): Tensor {
    return x.relu();
  }
  [inspect.custom](): string {
    return "ReLU()";
  }
}

export class Tanh extends Module {
  protected forwardAny(x: Tensor): Tensor {
    return x.tanh();
  }
  [inspect.custom](): string {
    return "Tanh()";
  }
}

export class Sigmoid extends Module {
  protected forwardAny(x: Tensor): Tensor {
    return x.sigmoid();
  }
  [inspect.custom](): string {
    return "Sigmoid()";
  }
}

/** Modules applied in order. */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
  }
  protected forwardAny(x: Tensor): Tensor {
    let h = x;
    for (const layer of this.layers) h = layer.forward(h);
    return h;
  }
  [inspect.custom](): string {
    return `Sequential(\n${this.layers.map((l, i) => `  (${i}): ${inspect(l)}`).join("\n")}\n)`;
  }
}

export { noGrad };
