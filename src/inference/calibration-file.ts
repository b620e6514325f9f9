// calibration.json: the statistics and thresholds `inspector calibrate` writes into a bundle.
import { z } from "zod";

export const CALIBRATION_FORMAT = "inspector-calibration";
export const CALIBRATION_VERSION = 1;
export const CALIBRATION_FILE = "calibration.json";

const moments = z.object({ mean: z.number(), std: z.number().positive() });

/** Mean and std of the fused map per position (row-major grid over the model's input), from good parts. */
const positionStatistics = z.object({
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  mean: z.array(z.number()),
  std: z.array(z.number().positive()),
}).refine((p) => p.mean.length === p.width * p.height && p.std.length === p.width * p.height,
  { message: "positions: mean and std need width × height values each" });

export type PositionStatistics = z.infer<typeof positionStatistics>;

export const calibrationSchema = z.object({
  format: z.literal(CALIBRATION_FORMAT),
  format_version: z.literal(CALIBRATION_VERSION),
  created: z.string(),
  bundle_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  source: z.object({
    good: z.string(),
    bad: z.string().optional(),
    good_images: z.number().int().nonnegative(),
    statistics_images: z.number().int().positive(),
    threshold_images: z.number().int().positive(),
    bad_images: z.number().int().nonnegative().optional(),
  }),
  scales: z.record(z.string(), z.object({ error: moments, variance: moments })),
  scoring: z.object({ blur_sigma: z.number().nonnegative(), positions: positionStatistics.optional() }),
  thresholds: z.object({
    image_lower: z.number(),
    image_upper: z.number(),
    pixel: z.number(),
    method: z.string(),
    target_false_reject_rate: z.number().min(0).max(1),
  }),
  measured: z.record(z.string(), z.unknown()),
});

export type Calibration = z.infer<typeof calibrationSchema>;
