// Parts through the station one behind the other, overlapped: frames are grabbed in order, and a
// part goes to the inference worker's queue the moment it is prepared, so the worker never waits
// for the main thread (grab, preprocess, scoring and publishing of other parts happen meanwhile).
// The worker runs one part at a time in the order given: outcomes resolve in start order.
import { capturePart, isCaptured, judgePart, type StationContext } from "./inspect-part.js";
import type { PartOutcome, PartRequest } from "./part.js";

export class PartLine {
  private grabs: Promise<unknown> = Promise.resolve();

  constructor(private readonly context: StationContext) {}

  /** Resolves to the part's outcome, or to null when the source has no more frames. Never rejects. */
  start(request: PartRequest): Promise<PartOutcome | null> {
    const captured = this.grabs.then(() => capturePart(this.context, request));
    this.grabs = captured;
    return captured.then((part) => isCaptured(part) ? judgePart(this.context, part) : part);
  }
}
