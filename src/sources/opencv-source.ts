// Frames from cv.VideoCapture: a V4L2 device, a video file, an RTSP/HTTP stream or a GStreamer
// pipeline (CSI, USB, GigE Vision through aravis on a Jetson). A camera that stops delivering is
// released and constructed anew with back-off (reset() would lose the GStreamer preference), and
// the source reports itself unhealthy meanwhile.
import { BehaviorSubject } from "rxjs";

import type { SourceConfig } from "../config/pipeline-config.js";
import { cv, type Mat } from "../preprocess/opencv.js";
import { type Frame, type FrameSource, SourceError, type SourceHealth } from "./frame-source.js";

type OpencvConfig = Extract<SourceConfig, { type: "opencv" }>;

export class OpencvSource implements FrameSource {
  readonly health$ = new BehaviorSubject<SourceHealth>({ ok: false, reason: "not opened yet" });
  private capture?: InstanceType<typeof cv.VideoCapture>;
  private emptyReads = 0;
  private delayMs: number;
  private retry?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly config: OpencvConfig) {
    this.delayMs = config.reconnect.minMs;
  }

  get description(): string {
    const c = this.config;
    return c.device !== undefined ? `camera /dev/video${c.device}` : c.file ? `video file ${c.file}`
      : c.url ? `stream ${c.url.replace(/\/\/[^@/]*@/, "//***@")}` : `GStreamer pipeline ${c.gstreamer}`;
  }

  private get isFile(): boolean {
    return this.config.file !== undefined;
  }

  private construct(): InstanceType<typeof cv.VideoCapture> {
    const c = this.config;
    const capture = c.gstreamer !== undefined ? new cv.VideoCapture(c.gstreamer, cv.CAP_GSTREAMER)
      : new cv.VideoCapture((c.device ?? c.file ?? c.url)!);
    if (c.device !== undefined) {
      // Keep the driver from handing out stale frames when parts are triggered.
      capture.set(cv.CAP_PROP_BUFFERSIZE, 1);
      if (c.width) capture.set(cv.CAP_PROP_FRAME_WIDTH, c.width);
      if (c.height) capture.set(cv.CAP_PROP_FRAME_HEIGHT, c.height);
    }
    return capture;
  }

  /** Opens the capture; when it fails, the source stays unhealthy and keeps trying in the background. */
  async open(): Promise<void> {
    if (this.isFile) {
      // A missing file is a configuration mistake, not a camera fault: say so at start.
      try {
        this.capture = this.construct();
      } catch (err) {
        throw new SourceError("SOURCE_UNAVAILABLE", `${this.description}: cannot be opened (${(err as Error).message}).`);
      }
      this.health$.next({ ok: true });
      return;
    }
    this.connect();
  }

  private connect(): void {
    this.retry = undefined;
    if (this.closed) return;
    try {
      this.capture = this.construct();
      this.emptyReads = 0;
      this.delayMs = this.config.reconnect.minMs;
      this.health$.next({ ok: true });
    } catch (err) {
      this.lost(`cannot open ${this.description}: ${(err as Error).message}`);
    }
  }

  private lost(reason: string): void {
    this.capture?.release();
    this.capture = undefined;
    if (this.health$.value.ok || this.health$.value.reason !== reason) this.health$.next({ ok: false, reason });
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => this.connect(), this.delayMs);
    this.delayMs = Math.min(this.delayMs * 2, this.config.reconnect.maxMs);
  }

  async grab(): Promise<Frame | null> {
    if (!this.capture) throw new SourceError("SOURCE_UNAVAILABLE", this.health$.value.reason ?? `${this.description} is not available`);
    let image: Mat = await this.capture.readAsync();
    if (image.empty && this.isFile) {
      if (!this.config.loop) return null;
      this.capture.set(cv.CAP_PROP_POS_FRAMES, 0);
      image = await this.capture.readAsync();
    }
    if (image.empty) {
      if (++this.emptyReads >= this.config.maxEmptyReads) this.lost(`${this.description} stopped delivering frames`);
      throw new SourceError("SOURCE_UNAVAILABLE", `${this.description} delivered no frame`);
    }
    this.emptyReads = 0;
    const { width, height } = this.config;
    if ((width && image.cols !== width) || (height && image.rows !== height)) {
      throw new SourceError("FRAME_SIZE", `${this.description} delivered a ${image.cols}×${image.rows} frame; the pipeline expects ` +
        `${width ?? image.cols}×${height ?? image.rows}. Fix source.width/height or the camera's mode.`);
    }
    return { image, capturedAt: new Date() };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    // Released explicitly: a leaked Argus session wedges nvargus-daemon on a Jetson.
    this.capture?.release();
    this.capture = undefined;
  }
}
