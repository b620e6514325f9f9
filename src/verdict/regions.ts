// Defect regions: 8-connected components of the map above the pixel threshold, kept when their
// peak reaches the image threshold (hysteresis, as in Canny's edge linking: the outline comes from
// the lower threshold, the decision from the higher) and their area is large enough.
import { cv, type Mat } from "../preprocess/opencv.js";

export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
  area: number;
  peak: number;
}

export interface RegionOptions {
  pixelThreshold: number;
  peakThreshold: number;
  minArea: number;
  /** Offset added to coordinates (the ROI's position in the frame). */
  offsetX?: number;
  offsetY?: number;
}

export function findRegions(map: Mat, options: RegionOptions): Region[] {
  const above = map.threshold(options.pixelThreshold, 255, cv.THRESH_BINARY).convertTo(cv.CV_8U);
  const { labels, stats } = above.connectedComponentsWithStats(8, cv.CV_32S);
  const regions: Region[] = [];
  for (let label = 1; label < stats.rows; label++) {
    const area = stats.at(label, cv.CC_STAT_AREA);
    if (area < options.minArea) continue;
    const peak = map.minMaxLoc(labels.inRange(label, label)).maxVal;
    if (peak < options.peakThreshold) continue;
    regions.push({
      x: stats.at(label, cv.CC_STAT_LEFT) + (options.offsetX ?? 0),
      y: stats.at(label, cv.CC_STAT_TOP) + (options.offsetY ?? 0),
      width: stats.at(label, cv.CC_STAT_WIDTH),
      height: stats.at(label, cv.CC_STAT_HEIGHT),
      area,
      peak,
    });
  }
  return regions.sort((a, b) => b.peak - a.peak);
}
