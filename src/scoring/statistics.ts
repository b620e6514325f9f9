// Running moments and quantiles for calibration.

/** Mean and standard deviation over every value added, in float64 (millions of pixels). */
export class Moments {
  private count = 0;
  private sum = 0;
  private squares = 0;

  add(values: ArrayLike<number>): void {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      this.sum += v;
      this.squares += v * v;
    }
    this.count += values.length;
  }

  get mean(): number {
    return this.sum / this.count;
  }

  get std(): number {
    const variance = this.squares / this.count - this.mean * this.mean;
    return Math.sqrt(Math.max(variance, 0));
  }

  get n(): number {
    return this.count;
  }
}

/** The q-quantile of ascending-sorted values with linear interpolation (numpy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * Math.min(Math.max(q, 0), 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

/** Keeps every k-th value so that a sample stays under `limit` values whatever the image count. */
export class Subsample {
  private readonly values: number[] = [];
  private seen = 0;

  constructor(private readonly stride: number) {}

  add(values: ArrayLike<number>): void {
    for (let i = 0; i < values.length; i++, this.seen++) if (this.seen % this.stride === 0) this.values.push(values[i]);
  }

  sorted(): Float64Array {
    return Float64Array.from(this.values).sort();
  }
}
