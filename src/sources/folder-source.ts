// Images from a folder in name order, once or in a loop: replaying recorded parts at the station.
import { BehaviorSubject } from "rxjs";

import { listImages, readImage } from "../images/image-files.js";
import { type Frame, type FrameSource, SourceError, type SourceHealth } from "./frame-source.js";

export class FolderSource implements FrameSource {
  readonly health$ = new BehaviorSubject<SourceHealth>({ ok: true });
  private files: string[] = [];
  private next = 0;

  constructor(private readonly folder: string, private readonly loop: boolean) {}

  get description(): string {
    return `folder ${this.folder}${this.loop ? " (looping)" : ""}`;
  }

  async open(): Promise<void> {
    this.files = listImages(this.folder, "part images");
    if (this.files.length === 0) throw new SourceError("SOURCE_UNAVAILABLE", `${this.folder}: no images (.png, .jpg, .bmp, .tif, .webp) in this folder.`);
  }

  async grab(): Promise<Frame | null> {
    if (this.next >= this.files.length) {
      if (!this.loop) return null;
      this.next = 0;
    }
    const file = this.files[this.next++];
    try {
      return { image: readImage(file), capturedAt: new Date(), name: file };
    } catch (err) {
      throw new SourceError("FRAME_CORRUPT", (err as Error).message);
    }
  }

  async close(): Promise<void> {}
}
