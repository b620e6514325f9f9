// The verdict of one part from its image score and the calibrated thresholds.
export type VerdictKind = "OK" | "NG" | "UNCERTAIN" | "ERROR";

export interface Thresholds {
  /** Scores below it are OK. */
  imageLower: number;
  /** Scores at or above it are NG; between the two, UNCERTAIN (an empty band when they are equal). */
  imageUpper: number;
  /** Pixels above it outline a region. */
  pixel: number;
}

export function classify(score: number, thresholds: Thresholds): Exclude<VerdictKind, "ERROR"> {
  if (Number.isNaN(score)) return "UNCERTAIN"; // never call a part good on a broken score
  if (score >= thresholds.imageUpper) return "NG";
  if (score < thresholds.imageLower) return "OK";
  return "UNCERTAIN";
}
