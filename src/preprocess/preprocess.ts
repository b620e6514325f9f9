// Frame → model input: optional ROI crop, colour handling as the bundle was trained, resize to the
// bundle's input, planar float32 RGB (0–255; the graph normalises). OpenCV does the pixel work.
import { cv, type Mat } from "../native/opencv.js";

export interface Roi {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PreprocessSpec {
  roi?: Roi;
  width: number;
  height: number;
  colour: "gray" | "rgb";
}

export interface Prepared {
  /** N×3×H×W float32, ready for the graph (transferable). */
  tensor: Float32Array;
  /** The ROI of the frame in BGR, for the heatmap overlay. */
  roiImage: Mat;
}

export class FrameError extends Error {
  constructor(readonly code: "FRAME_EMPTY" | "FRAME_ROI", message: string) {
    super(message);
  }
}

export function cropRoi(frame: Mat, roi?: Roi): Mat {
  if (frame.empty || frame.rows === 0 || frame.cols === 0) throw new FrameError("FRAME_EMPTY", "the frame is empty");
  if (!roi) return frame;
  if (roi.x < 0 || roi.y < 0 || roi.width < 1 || roi.height < 1 || roi.x + roi.width > frame.cols || roi.y + roi.height > frame.rows) {
    throw new FrameError("FRAME_ROI", `the ROI (x ${roi.x}, y ${roi.y}, ${roi.width}×${roi.height}) does not fit the ` +
      `${frame.cols}×${frame.rows} frame: fix roi in the pipeline, or check the camera's resolution`);
  }
  return frame.getRegion(new cv.Rect(roi.x, roi.y, roi.width, roi.height));
}

/** BGR or gray 8-bit frame → planar float RGB of the model's size, written into `into` when given (3·width·height floats). */
export function preprocess(frame: Mat, spec: PreprocessSpec, into?: Float32Array): Prepared {
  const roiImage = toBgr(cropRoi(frame, spec.roi));
  const shrinking = roiImage.cols > spec.width || roiImage.rows > spec.height;
  // INTER_AREA when shrinking averages like the trainer's antialiased bilinear resize.
  const resized = roiImage.resize(spec.height, spec.width, 0, 0, shrinking ? cv.INTER_AREA : cv.INTER_LINEAR);
  const plane = spec.width * spec.height;
  const tensor = into?.length === 3 * plane ? into : new Float32Array(3 * plane);
  // One read of the 8-bit pixels, spread into the three planes here: per-channel Mats and float
  // copies made over half a megabyte of garbage per part, and the collections it caused took time from inference.
  if (spec.colour === "gray") {
    const grayMat = resized.cvtColor(cv.COLOR_BGR2GRAY);
    const gray = grayMat.getData();
    grayMat.release();
    for (let i = 0; i < plane; i++) tensor[i] = tensor[plane + i] = tensor[2 * plane + i] = gray[i];
  } else {
    const bgr = resized.getData();
    for (let i = 0, j = 0; i < plane; i++, j += 3) {
      tensor[i] = bgr[j + 2];
      tensor[plane + i] = bgr[j + 1];
      tensor[2 * plane + i] = bgr[j];
    }
  }
  if (resized !== roiImage) resized.release();
  return { tensor, roiImage };
}

export function toBgr(image: Mat): Mat {
  if (image.channels === 3) return image;
  if (image.channels === 1) return image.cvtColor(cv.COLOR_GRAY2BGR);
  if (image.channels === 4) return image.cvtColor(cv.COLOR_BGRA2BGR);
  throw new FrameError("FRAME_EMPTY", `frames with ${image.channels} channels are not supported`);
}

/** The pixels of a single-channel CV_32F Mat as a Float32Array (one copy, for alignment). */
export function floatsOf(mat: Mat): Float32Array {
  const bytes = mat.getData();
  const floats = new Float32Array(bytes.length / 4);
  new Uint8Array(floats.buffer).set(bytes);
  return floats;
}
