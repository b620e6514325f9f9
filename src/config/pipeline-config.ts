// A station (pipelines/*.yaml): where frames come from, what makes a part, which bundle judges it,
// and how its verdicts are published. Paths are relative to the pipeline file.
import path from "node:path";

import { z } from "zod";

import { readConfigFile } from "./config-file.js";

/** What the synthetic source can draw (sources/synthetic-part.ts); named in pipeline files. */
export const DEFECT_KINDS = ["scratch", "crack", "dent", "stain", "missing_hole"] as const;
export type DefectKind = (typeof DEFECT_KINDS)[number];

const positive = z.number().int().min(1);
const reconnect = z.strictObject({
  minMs: z.number().int().min(10).default(1000),
  maxMs: z.number().int().min(10).default(30000),
}).prefault({});

const opencvSource = z.strictObject({
  type: z.literal("opencv"),
  /** A V4L2 device index, a video file, an RTSP/HTTP URL or a GStreamer pipeline ending in appsink. */
  device: z.number().int().min(0).optional(),
  file: z.string().min(1).optional(),
  url: z.string().regex(/^(rtsp|rtsps|http|https):\/\/\S+$/, "an rtsp:// or http(s):// URL").optional(),
  gstreamer: z.string().includes("appsink", { error: "a GStreamer pipeline must end in appsink (see docs/deploy-jetson.md)" }).optional(),
  width: positive.optional(),
  height: positive.optional(),
  /** A video file: start again at the end instead of stopping. */
  loop: z.boolean().default(false),
  reconnect,
  /** Consecutive empty reads before the camera counts as lost. */
  maxEmptyReads: positive.default(3),
  /** A live camera that delivers no frame for this long counts as lost. */
  frameTimeoutMs: z.number().int().min(50).max(600_000).default(2000),
}).refine((s) => [s.device, s.file, s.url, s.gstreamer].filter((v) => v !== undefined).length === 1,
  { error: "give exactly one of device, file, url or gstreamer" });

const folderSource = z.strictObject({
  type: z.literal("folder"),
  path: z.string().min(1),
  loop: z.boolean().default(false),
});

const syntheticSource = z.strictObject({
  type: z.literal("synthetic"),
  size: z.number().int().min(64).max(4096).default(256),
  /** Share of parts drawn with a defect. */
  defectRate: z.number().min(0).max(1).default(0.25),
  defects: z.array(z.enum(DEFECT_KINDS)).min(1).default([...DEFECT_KINDS]),
  seed: z.number().int().min(0).default(1),
  /** Stop after this many parts (default: never). */
  count: positive.optional(),
});

const continuousTrigger = z.strictObject({
  type: z.literal("continuous"),
  /** At most one part per this many ms (0: as fast as the pipeline goes). */
  minIntervalMs: z.number().int().min(0).default(0),
});

const mqttTrigger = z.strictObject({
  type: z.literal("mqtt"),
  /** Default: PREFIX/STATION/trigger. */
  topic: z.string().regex(/^[^#+]+$/, "a topic without wildcards").optional(),
  /** Parts waiting beyond the one in flight; more get an ERROR verdict with code BUSY. */
  queue: z.number().int().min(0).max(10000).default(4),
});

export const pipelineSchema = z.strictObject({
  station: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "1–64 letters, digits, _ . - (it becomes part of MQTT topics)"),
  bundle: z.string().min(1),
  source: z.discriminatedUnion("type", [opencvSource, folderSource, syntheticSource],
    { error: "type must be opencv, folder or synthetic" }),
  trigger: z.discriminatedUnion("type", [continuousTrigger, mqttTrigger], { error: "type must be continuous or mqtt" })
    .default({ type: "continuous", minIntervalMs: 0 }),
  roi: z.strictObject({ x: z.number().int().min(0), y: z.number().int().min(0), width: positive, height: positive }).optional(),
  /** Override the calibrated thresholds for this station. */
  thresholds: z.strictObject({
    imageLower: z.number().optional(),
    imageUpper: z.number().optional(),
    pixel: z.number().optional(),
  }).optional(),
  regions: z.strictObject({ minArea: positive.default(4) }).prefault({}),
  heatmap: z.strictObject({
    enabled: z.boolean().default(true),
    format: z.enum(["jpeg", "png"]).default("jpeg"),
    quality: z.number().int().min(10).max(100).default(85),
  }).prefault({}),
  /** Override the daemon's topic prefix for this station. */
  topicPrefix: z.string().regex(/^[^#+\s]+$/, "no spaces, + or #").optional(),
  /** The images of failed inspections, kept on disk with a retention (docs/station-page.md). */
  archive: z.strictObject({
    enabled: z.boolean().default(false),
    /** Relative to the pipeline file. */
    dir: z.string().min(1).default("archive"),
    verdicts: z.array(z.enum(["NG", "UNCERTAIN", "OK"])).default(["NG", "UNCERTAIN"]),
    /** Also keep one OK part in this many (0: none), as a sample of what good parts look like now. */
    okEvery: z.number().int().min(0).default(0),
    /** Retention, oldest parts first; maxAgeDays 0: no age limit. */
    maxParts: z.number().int().min(1).default(100_000),
    maxAgeDays: z.number().min(0).default(30),
    maxMegabytes: z.number().min(1).default(2048),
  }).prefault({}),
});

/** A station as its pipeline file (pipelines/*.yaml) describes it. */
export type StationConfig = z.output<typeof pipelineSchema>;
export type SourceConfig = StationConfig["source"];
export type TriggerConfig = StationConfig["trigger"];

export function loadPipeline(file: string): StationConfig & { file: string } {
  const pipeline = readConfigFile(file, pipelineSchema);
  const base = path.dirname(path.resolve(file));
  const source = { ...pipeline.source };
  if (source.type === "folder") source.path = path.resolve(base, source.path);
  if (source.type === "opencv" && source.file) source.file = path.resolve(base, source.file);
  return { ...pipeline, bundle: path.resolve(base, pipeline.bundle), source,
    archive: { ...pipeline.archive, dir: path.resolve(base, pipeline.archive.dir) }, file: path.resolve(file) };
}
