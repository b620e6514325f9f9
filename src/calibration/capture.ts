// Good parts for calibration captured through the station itself: its source and its ROI, so the
// statistics describe exactly the frames the daemon will judge (lighting, lens, resolution).
import { mkdirSync } from "node:fs";
import path from "node:path";

import type { StationConfig } from "../config/pipeline-config.js";
import { UserError } from "../errors/user-error.js";
import { cv } from "../native/opencv.js";
import { cropRoi } from "../preprocess/preprocess.js";
import { createSource } from "../sources/open-source.js";
import { SourceError } from "../sources/frame-source.js";

export interface CaptureOptions {
  pipeline: StationConfig;
  count: number;
  /** Folder the captured (ROI-cropped) images are written to. */
  out: string;
  /** Pause between captures, for parts to be changed in front of the camera. */
  intervalMs: number;
  onProgress?: (done: number, total: number) => void;
}

const MAX_CONSECUTIVE_FAILURES = 10;

export async function captureGoodParts(options: CaptureOptions): Promise<string[]> {
  const source = createSource(options.pipeline.source);
  mkdirSync(options.out, { recursive: true });
  const files: string[] = [];
  let failures = 0;
  try {
    await source.open();
    while (files.length < options.count) {
      let frame;
      try {
        frame = await source.grab();
      } catch (err) {
        if (!(err instanceof SourceError) || ++failures > MAX_CONSECUTIVE_FAILURES) {
          throw new UserError(`capture stopped after ${files.length} of ${options.count} parts: ${(err as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      if (!frame) {
        throw new UserError(`${source.description} ran out after ${files.length} of ${options.count} frames: lower --count or add images.`);
      }
      failures = 0;
      const file = path.join(options.out, `capture-${String(files.length + 1).padStart(4, "0")}.png`);
      cv.imwrite(file, cropRoi(frame.image, options.pipeline.roi));
      files.push(file);
      options.onProgress?.(files.length, options.count);
      if (options.intervalMs > 0 && files.length < options.count) await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
    }
  } finally {
    await source.close();
  }
  return files;
}
