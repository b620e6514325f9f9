// The picture an operator looks at: the anomaly map in colour over the part, regions boxed,
// cropped to the regions (with a margin) or the whole ROI when there are none.
import { cv, freed, type Mat } from "../preprocess/opencv.js";
import type { Region } from "./regions.js";

export interface HeatmapOptions {
  format: "jpeg" | "png";
  jpegQuality: number;
  /** Map value shown at the top of the colour scale (scores at or above are red). */
  scaleMax: number;
  /** Pixels around the regions' bounding box, in ROI pixels. */
  margin: number;
  /** The ROI's position in the frame, subtracted from region coordinates. */
  offsetX?: number;
  offsetY?: number;
}

export const DEFAULT_HEATMAP_OPTIONS: Omit<HeatmapOptions, "scaleMax"> = { format: "jpeg", jpegQuality: 85, margin: 32 };

const OVERLAY_ALPHA = 0.45;
const BOX_COLOUR = new cv.Vec3(255, 255, 255);

export function renderHeatmap(roiImage: Mat, map: Mat, regions: Region[], options: HeatmapOptions): Buffer {
  const scale = 255 / Math.max(options.scaleMax, 1e-6);
  const scaled = map.convertTo(cv.CV_8U, scale, 0);
  const colour = freed(cv.applyColorMap(scaled, cv.COLORMAP_JET), scaled);
  const overlay = freed(roiImage.addWeighted(1 - OVERLAY_ALPHA, colour, OVERLAY_ALPHA, 0), colour);
  const ox = options.offsetX ?? 0;
  const oy = options.offsetY ?? 0;
  for (const r of regions) overlay.drawRectangle(new cv.Rect(r.x - ox, r.y - oy, r.width, r.height), BOX_COLOUR, 1);
  let picture = overlay;
  if (regions.length > 0) {
    const left = Math.max(0, Math.min(...regions.map((r) => r.x - ox)) - options.margin);
    const top = Math.max(0, Math.min(...regions.map((r) => r.y - oy)) - options.margin);
    const right = Math.min(overlay.cols, Math.max(...regions.map((r) => r.x - ox + r.width)) + options.margin);
    const bottom = Math.min(overlay.rows, Math.max(...regions.map((r) => r.y - oy + r.height)) + options.margin);
    picture = overlay.getRegion(new cv.Rect(left, top, right - left, bottom - top));
  }
  const encoded = options.format === "png"
    ? cv.imencode(".png", picture)
    : cv.imencode(".jpg", picture, [cv.IMWRITE_JPEG_QUALITY, options.jpegQuality]);
  return freed(encoded, picture, overlay);
}
