// What every source gives the pipeline: frames on demand, its health, and a clean release.
import { BehaviorSubject } from "rxjs";

import type { Mat } from "../native/opencv.js";

export interface Frame {
  image: Mat;
  capturedAt: Date;
  /** Where the frame came from when that means something to a person (a file name). */
  name?: string;
  /** Synthetic parts only: the defect drawn, or null for a good part. */
  truth?: string | null;
}

export type SourceErrorCode = "SOURCE_UNAVAILABLE" | "FRAME_CORRUPT" | "FRAME_SIZE";

/** A part's frame could not be had; the code goes into its ERROR verdict. */
export class SourceError extends Error {
  constructor(readonly code: SourceErrorCode, message: string) {
    super(message);
  }
}

export interface SourceHealth {
  ok: boolean;
  reason?: string;
}

export interface FrameSource {
  readonly description: string;
  readonly health$: BehaviorSubject<SourceHealth>;
  open(): Promise<void>;
  /**
   * The next frame, or null when the source has no more (a folder or file read once). The frame's
   * Mat is the caller's own (never shared with another grab): the station releases it after the verdict.
   */
  grab(): Promise<Frame | null>;
  close(): Promise<void>;
}
