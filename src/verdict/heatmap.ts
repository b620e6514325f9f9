// The picture an operator looks at: the anomaly map in colour over the part, regions boxed,
// cropped to the regions (with a margin) or the whole ROI when there are none.
import { cv, freed, type Mat } from "../native/opencv.js";
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

/**
 * JET as a 256-entry table, made once: applyColorMap with a built-in map rebuilds that table on
 * every call (0.25 ms per part on the station's thread); with the table it is one lookup pass.
 */
const JET = cv.applyColorMap(new cv.Mat(Buffer.from(Uint8Array.from({ length: 256 }, (_, i) => i)), 256, 1, cv.CV_8U), cv.COLORMAP_JET);

/** The part of the ROI the heatmap shows, in ROI pixels: the regions with a margin, or all of it. */
export function heatmapCrop(map: Mat, regions: Region[], options: Pick<HeatmapOptions, "margin" | "offsetX" | "offsetY">):
  { x: number; y: number; width: number; height: number } {
  const ox = options.offsetX ?? 0;
  const oy = options.offsetY ?? 0;
  if (regions.length === 0) return { x: 0, y: 0, width: map.cols, height: map.rows };
  const left = Math.max(0, Math.min(...regions.map((r) => r.x - ox)) - options.margin);
  const top = Math.max(0, Math.min(...regions.map((r) => r.y - oy)) - options.margin);
  const right = Math.min(map.cols, Math.max(...regions.map((r) => r.x - ox + r.width)) + options.margin);
  const bottom = Math.min(map.rows, Math.max(...regions.map((r) => r.y - oy + r.height)) + options.margin);
  return { x: left, y: top, width: right - left, height: bottom - top };
}

/** `c`: the crop, when the caller has it already (heatmapCrop). */
export function renderHeatmap(roiImage: Mat, map: Mat, regions: Region[], options: HeatmapOptions,
  c = heatmapCrop(map, regions, options)): Buffer {
  const ox = options.offsetX ?? 0;
  const oy = options.offsetY ?? 0;
  // The crop first, so that only the pixels shown are coloured and blended.
  const crop = new cv.Rect(c.x, c.y, c.width, c.height);
  const scale = 255 / Math.max(options.scaleMax, 1e-6);
  // Views share their parent's pixels; released here so they do not hold them until a collection.
  const mapView = map.getRegion(crop);
  const scaled = freed(mapView.convertTo(cv.CV_8U, scale, 0), mapView);
  const colour = freed(cv.applyColorMap(scaled, JET), scaled);
  const roiView = roiImage.getRegion(crop);
  const picture = freed(roiView.addWeighted(1 - OVERLAY_ALPHA, colour, OVERLAY_ALPHA, 0), colour, roiView);
  for (const r of regions) picture.drawRectangle(new cv.Rect(r.x - ox - crop.x, r.y - oy - crop.y, r.width, r.height), BOX_COLOUR, 1);
  const encoded = options.format === "png"
    ? cv.imencode(".png", picture)
    : cv.imencode(".jpg", picture, [cv.IMWRITE_JPEG_QUALITY, options.jpegQuality]);
  return freed(encoded, picture);
}
