// Frames from cv.VideoCapture: a V4L2 device, a video file, an RTSP/HTTP stream or a GStreamer
// pipeline (CSI, USB, GigE Vision through aravis on a Jetson). A camera that stops delivering is
// released and constructed anew with back-off (reset() would lose the GStreamer preference), and
// the source reports itself unhealthy meanwhile.
import { BehaviorSubject } from "rxjs";

import type { SourceConfig } from "../config/pipeline-config.js";
import { cv, type Mat } from "../native/opencv.js";
import { type Frame, type FrameSource, SourceError, type SourceHealth } from "./frame-source.js";

type OpencvConfig = Extract<SourceConfig, { type: "opencv" }>;
type Capture = InstanceType<typeof cv.VideoCapture>;

/** The addon throws plain strings or errors without a message when a capture cannot be opened. */
function reasonOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err ?? "");
  return text && text !== "undefined" ? text : "OpenCV could not open it (see the OpenCV lines on stderr)";
}

/** libavformat's major version in the FFmpeg that OpenCV was built with (59: FFmpeg 5.x); 0 when unknown. */
const AVFORMAT_MAJOR = Number(/avformat:\s*YES \((\d+)\./.exec(cv.getBuildInformation())?.[1] ?? 0);

/**
 * FFmpeg capture options (OPENCV_FFMPEG_CAPTURE_OPTIONS, "key;value|key;value") with a socket
 * timeout for a network camera. Without one, a camera that accepts the connection and then sends
 * nothing (hung firmware, a half-dead link) holds `new VideoCapture` for OpenCV's 30 s — on the
 * event loop: no MQTT, no trigger answered meanwhile — and a read for as long, in one of libuv's
 * four threads. Options the environment already sets are kept; a timeout given there wins.
 */
export function ffmpegCaptureOptions(url: string, timeoutMs: number, given = process.env.OPENCV_FFMPEG_CAPTURE_OPTIONS ?? "",
  avformatMajor = AVFORMAT_MAJOR): string {
  const entries = given.split("|").filter((entry) => entry.trim() !== "");
  if (entries.some((entry) => /^(timeout|stimeout|rw_timeout);/.test(entry.trim()))) return given;
  // FFmpeg 5 calls the RTSP socket timeout "timeout"; FFmpeg 4 "stimeout" (its RTSP "timeout" means
  // "listen for the camera to connect"). rw_timeout is FFmpeg's generic I/O timeout (HTTP and others).
  const rtsp = /^rtsps?:/i.test(url);
  const key = avformatMajor >= 59 ? "timeout" : rtsp ? "stimeout" : "rw_timeout";
  return [...entries, `${key};${Math.round(timeoutMs * 1000)}`].join("|");
}

export class OpencvSource implements FrameSource {
  readonly health$ = new BehaviorSubject<SourceHealth>({ ok: false, reason: "not opened yet" });
  private capture?: Capture;
  private reader?: Promise<void>;
  private waiters: { resolve: (frame: Frame) => void; reject: (err: Error) => void }[] = [];
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

  private construct(): Capture {
    const c = this.config;
    // OpenCV reads the variable at each open; one station per process, so setting it here is enough.
    if (c.url !== undefined) process.env.OPENCV_FFMPEG_CAPTURE_OPTIONS = ffmpegCaptureOptions(c.url, c.frameTimeoutMs);
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
        throw new SourceError("SOURCE_UNAVAILABLE", `${this.description}: cannot be opened (${reasonOf(err)}).`);
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
      this.startReader(this.capture);
      this.health$.next({ ok: true });
    } catch (err) {
      this.lost(`cannot open ${this.description}: ${reasonOf(err)}`);
    }
  }

  private lost(reason: string): void {
    const capture = this.capture;
    this.capture = undefined;
    // A live capture is released by its reader loop once the read in progress returns.
    if (capture && this.isFile) capture.release();
    for (const waiter of this.waiters.splice(0)) waiter.reject(new SourceError("SOURCE_UNAVAILABLE", reason));
    if (this.health$.value.ok || this.health$.value.reason !== reason) this.health$.next({ ok: false, reason });
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => this.connect(), this.delayMs);
    this.delayMs = Math.min(this.delayMs * 2, this.config.reconnect.maxMs);
  }

  async grab(): Promise<Frame | null> {
    if (!this.capture) throw new SourceError("SOURCE_UNAVAILABLE", this.health$.value.reason ?? `${this.description} is not available`);
    const frame = this.isFile ? await this.readFile(this.capture) : await this.nextLiveFrame();
    if (!frame) return null;
    const { width, height } = this.config;
    const image = frame.image;
    if ((width && image.cols !== width) || (height && image.rows !== height)) {
      throw new SourceError("FRAME_SIZE", `${this.description} delivered a ${image.cols}×${image.rows} frame; the pipeline expects ` +
        `${width ?? image.cols}×${height ?? image.rows}. Fix source.width/height or the camera's mode.`);
    }
    return frame;
  }

  private async readFile(capture: Capture): Promise<Frame | null> {
    let image: Mat = await capture.readAsync();
    if (image.empty) {
      if (!this.config.loop) return null;
      capture.set(cv.CAP_PROP_POS_FRAMES, 0);
      image = await capture.readAsync();
      if (image.empty) throw new SourceError("SOURCE_UNAVAILABLE", `${this.description} has no readable frame`);
    }
    return { image, capturedAt: new Date() };
  }

  /**
   * A live camera is read continuously and a part gets the first frame that arrives after its
   * trigger: never a stale one from a decoder's or driver's buffer (FFmpeg streams hold several).
   */
  private nextLiveFrame(): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== resolve);
        const reason = `${this.description} delivered no frame for ${this.config.frameTimeoutMs} ms`;
        this.lost(reason);
        reject(new SourceError("SOURCE_UNAVAILABLE", reason));
      }, this.config.frameTimeoutMs);
      this.waiters.push({
        resolve: (frame) => { clearTimeout(timer); resolve(frame); },
        reject: (err) => { clearTimeout(timer); reject(err); },
      });
    });
  }

  private startReader(capture: Capture): void {
    this.reader = (async () => {
      while (this.capture === capture) {
        let image: Mat | undefined;
        try {
          image = await capture.readAsync();
        } catch {
          image = undefined;
        }
        if (this.capture !== capture) break;
        if (!image || image.empty) {
          if (++this.emptyReads >= this.config.maxEmptyReads) this.lost(`${this.description} stopped delivering frames`);
          continue;
        }
        this.emptyReads = 0;
        const capturedAt = new Date();
        // Each part owns its frame (the station releases it after the verdict): parts waiting together get copies.
        this.waiters.splice(0).forEach((waiter, i) => waiter.resolve({ image: i === 0 ? image : image.copy(), capturedAt }));
      }
      // Released by the loop that reads it, never in the middle of a read.
      capture.release();
    })();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    // Released explicitly: a leaked Argus session wedges nvargus-daemon on a Jetson.
    const capture = this.capture;
    this.capture = undefined;
    for (const waiter of this.waiters.splice(0)) waiter.reject(new SourceError("SOURCE_UNAVAILABLE", "the station is stopping"));
    if (capture && this.isFile) capture.release();
    // Wait for the reader to release the camera (one frame time), not for a stream that hangs.
    if (this.reader) await Promise.race([this.reader, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  }
}
