// manifest.json of a model bundle, as training/inspector_training/export.py writes it.
import { z } from "zod";

export const BUNDLE_FORMAT = "inspector-bundle";
export const SUPPORTED_FORMAT_VERSIONS = [1];

const shape4 = z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive(),
  z.number().int().positive()]);

export const scaleSchema = z.object({
  patch_size: z.number().int().positive(),
  output_stride: z.number().int().positive(),
  // Input pixel of the map's element 0 (MobileNetV2 block scales: stride − 1; patch networks: 0).
  output_offset: z.number().int().nonnegative().default(0),
  output_shape: shape4,
  outputs: z.object({ error: z.string().min(1), variance: z.string().min(1) }),
  students: z.number().int().positive(),
  width: z.number().positive(),
});

export const manifestSchema = z.object({
  format: z.literal(BUNDLE_FORMAT),
  format_version: z.number().int(),
  created: z.string(),
  input: z.object({
    name: z.string().min(1),
    shape: shape4,
    dtype: z.literal("float32"),
    layout: z.literal("NCHW"),
    range: z.tuple([z.number(), z.number()]),
    channel_order: z.literal("RGB"),
    colour: z.enum(["gray", "rgb"]),
    resize: z.string(),
  }),
  mode: z.enum(["dense", "strided"]),
  scales: z.array(scaleSchema).min(1),
  descriptor_size: z.number().int().positive(),
  opset: z.number().int(),
  training: z.record(z.string(), z.unknown()),
  files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ScaleInfo = z.infer<typeof scaleSchema>;
