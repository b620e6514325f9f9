// Defect regions: 8-connected components of the map above the pixel threshold, kept when their
// peak reaches the image threshold (hysteresis, as in Canny's edge linking: the outline comes from
// the lower threshold, the decision from the higher) and their area is large enough.
import { cv, freed, type Mat } from "../native/opencv.js";

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
  const binary = map.threshold(options.pixelThreshold, 255, cv.THRESH_BINARY);
  const above = freed(binary.convertTo(cv.CV_8U), binary);
  const { labels, stats } = above.connectedComponentsWithStats(8, cv.CV_32S);
  above.release();
  const regions: Region[] = [];
  for (let label = 1; label < stats.rows; label++) {
    const area = stats.at(label, cv.CC_STAT_AREA);
    if (area < options.minArea) continue;
    const box = new cv.Rect(stats.at(label, cv.CC_STAT_LEFT), stats.at(label, cv.CC_STAT_TOP),
      stats.at(label, cv.CC_STAT_WIDTH), stats.at(label, cv.CC_STAT_HEIGHT));
    // The peak within the component's own box: a whole-map mask per component cost a millisecond a part.
    const [labelsInBox, mapInBox] = [labels.getRegion(box), map.getRegion(box)];
    const mask = freed(labelsInBox.inRange(label, label), labelsInBox);
    const peak = freed(mapInBox.minMaxLoc(mask).maxVal, mask, mapInBox);
    if (peak < options.peakThreshold) continue;
    regions.push({ x: box.x + (options.offsetX ?? 0), y: box.y + (options.offsetY ?? 0), width: box.width, height: box.height, area, peak });
  }
  return freed(regions.sort((a, b) => b.peak - a.peak), labels, stats);
}
