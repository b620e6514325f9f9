// Verdicts on disk until the broker has acknowledged them: an append-only JSON-lines file and the
// byte offset of the first unacknowledged line. Every verdict is written here before it is
// published, so neither a broker outage nor a killed daemon loses one; they go out in order, with
// their original timestamps, when the broker is back. A torn last line (the daemon killed while
// writing it) is cut off at the next start. The file is emptied whenever everything is delivered.
// A disk that refuses a write (full, read-only, failing) does not stop the station: the verdict is
// kept in memory in its place in the queue, still delivered in order, and lost only if the process
// ends first; onDiskProblem says when that starts and ends. Memory is not endless either: past
// maxInMemory such verdicts (a full disk and a broker away for a long time) new ones are counted
// as lost and not kept, rather than the process growing until the kernel kills it and all of them.
import { isUtf8 } from "node:buffer";
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import path from "node:path";

/** A message to publish: the spool keeps its bytes, whatever the format a sink chose. */
export interface SpooledMessage {
  topic: string;
  payload: Buffer;
}

/**
 * A spooled message as one line of the file: the payload as text when it is UTF-8 (a JSON verdict,
 * readable with `tail`, and the only form earlier versions wrote), in base64 when it is not.
 */
function lineOf(message: SpooledMessage): Buffer {
  const record = isUtf8(message.payload)
    ? { topic: message.topic, payload: message.payload.toString("utf8") }
    : { topic: message.topic, payloadBase64: message.payload.toString("base64") };
  return Buffer.from(`${JSON.stringify(record)}\n`, "utf8");
}

function messageOf(line: Buffer): SpooledMessage {
  const record = JSON.parse(line.toString("utf8")) as { topic?: unknown; payload?: unknown; payloadBase64?: unknown };
  if (typeof record.topic !== "string") throw new Error("no topic");
  if (typeof record.payload === "string") return { topic: record.topic, payload: Buffer.from(record.payload, "utf8") };
  if (typeof record.payloadBase64 === "string") return { topic: record.topic, payload: Buffer.from(record.payloadBase64, "base64") };
  throw new Error("no payload");
}

interface Entry {
  /** Byte offset just past this entry's line (past the line before it when it is in memory only). */
  end: number;
  message: SpooledMessage;
  inMemoryOnly: boolean;
}

export interface SpoolRecovery {
  pending: number;
  tornBytes: number;
  unreadable: number;
}

/** Enough for any file size (2^53). */
const OFFSET_DIGITS = 16;

/** About 1 KB each in memory: some 100–150 MB, and a day of a part every second. */
export const MAX_IN_MEMORY = 100_000;

export interface SpoolOptions {
  /**
   * Called with a reason when the disk starts refusing writes (already while the spool is opened,
   * on a full disk), with another when verdicts start being lost over maxInMemory, and with null
   * when the disk takes writes again.
   */
  onDiskProblem?: (problem: string | null) => void;
  maxInMemory?: number;
}

export class VerdictSpool {
  private readonly pending: Entry[] = [];
  private readonly fd: number;
  private readonly offsetFile: string;
  private offsetFd = -1;
  private size = 0;
  private readonly file: string;
  /** Why the disk refused the last write, while it does. */
  private diskProblem: string | null = null;
  /** Pending entries with inMemoryOnly, counted: compared with maxInMemory on every refused append. */
  private inMemory = 0;
  /** Verdicts neither the disk nor memory could keep (over maxInMemory). */
  lost = 0;
  private losing = false;
  private readonly onDiskProblem?: (problem: string | null) => void;
  private readonly maxInMemory: number;
  readonly recovered: SpoolRecovery;

  constructor(dir: string, name: string, options: SpoolOptions = {}) {
    this.onDiskProblem = options.onDiskProblem;
    this.maxInMemory = options.maxInMemory ?? MAX_IN_MEMORY;
    mkdirSync(dir, { recursive: true });
    const file = this.file = path.join(dir, `${name}.spool.jsonl`);
    this.offsetFile = path.join(dir, `${name}.spool.offset`);
    this.fd = openSync(file, existsSync(file) ? "r+" : "w+");
    this.recovered = this.recover(file);
  }

  private recover(file: string): SpoolRecovery {
    const bytes = readFileSync(file);
    const recorded = existsSync(this.offsetFile) ? readFileSync(this.offsetFile, "utf8").trim() : "0";
    let offset = /^\d+$/.test(recorded) ? Number(recorded) : 0;
    // An offset past the end means the file was emptied after the offset was written: nothing is pending.
    // An unreadable one (a power cut mid-write) sends everything again: duplicates, recognisable by part id, but nothing lost.
    if (offset > bytes.length) offset = bytes.length;
    const lastNewline = bytes.lastIndexOf(0x0a);
    const complete = lastNewline + 1;
    const tornBytes = bytes.length - complete;
    if (tornBytes > 0) ftruncateSync(this.fd, complete);
    this.size = complete;
    let unreadable = 0;
    let start = Math.min(offset, complete);
    while (start < complete) {
      const end = bytes.indexOf(0x0a, start) + 1;
      try {
        this.pending.push({ end, message: messageOf(bytes.subarray(start, end - 1)), inMemoryOnly: false });
      } catch {
        unreadable++;
      }
      start = end;
    }
    // Leave the files consistent before anything new is appended.
    this.recordProgress(Math.min(offset, complete));
    return { pending: this.pending.length, tornBytes, unreadable };
  }

  get length(): number {
    return this.pending.length;
  }

  /** Pending verdicts the disk refused: they live in this process only. */
  get inMemoryOnly(): number {
    return this.inMemory;
  }

  append(message: SpooledMessage): void {
    const line = lineOf(message);
    try {
      // One write() per line: a killed process leaves a whole line or none (only power loss can tear one).
      const written = writeSync(this.fd, line, 0, line.length, this.size);
      if (written < line.length) {
        ftruncateSync(this.fd, this.size); // no half line left behind for the next start
        throw Object.assign(new Error(`only ${written} of ${line.length} bytes written`), { code: "ENOSPC" });
      }
    } catch (err) {
      this.refused(err);
      this.keepInMemory(message);
      return;
    }
    this.size += line.length;
    this.pending.push({ end: this.size, message, inMemoryOnly: false });
    this.taken();
  }

  private keepInMemory(message: SpooledMessage): void {
    const full = this.inMemory >= this.maxInMemory;
    if (full !== this.losing) {
      this.losing = full;
      this.onDiskProblem?.(full ? `${this.diskProblem}; ${this.maxInMemory} verdicts kept in memory, newer ones are lost ` +
        "until the broker takes some" : this.diskProblem);
    }
    if (full) {
      this.lost++;
      return;
    }
    this.pending.push({ end: this.size, message, inMemoryOnly: true });
    this.inMemory++;
  }

  private refused(err: unknown): void {
    if (this.diskProblem !== null) return;
    const code = (err as NodeJS.ErrnoException).code;
    this.diskProblem = `cannot write the verdict spool ${this.file}: ${code === "ENOSPC" ? "the disk is full" : (err as Error).message}`;
    this.onDiskProblem?.(this.diskProblem);
  }

  private taken(): void {
    if (this.diskProblem === null) return;
    this.diskProblem = null;
    this.losing = false;
    this.onDiskProblem?.(null);
  }

  /** The pending message at `index` (0: the first, the next to be acknowledged). */
  peek(index = 0): SpooledMessage | undefined {
    return this.pending[index]?.message;
  }

  /** The first pending message was delivered. */
  acknowledge(): void {
    const entry = this.pending.shift();
    if (!entry) return;
    if (entry.inMemoryOnly) this.inMemory--;
    this.recordProgress(entry.end);
  }

  /**
   * Records where the first pending verdict starts, or empties the files when none is. A disk that
   * refuses is reported, not thrown: at a start (a restart on a full disk) the verdicts go on in
   * memory as while running; after a delivery, a next start that reads the old offset sends that
   * verdict again (a duplicate, as QoS 1 allows).
   */
  private recordProgress(firstPending: number): void {
    try {
      if (this.pending.length === 0) {
        // Empty the file first: a crash before the offset is rewritten leaves an offset past the end, read as "nothing pending".
        ftruncateSync(this.fd, 0);
        this.size = 0;
        this.writeOffset(0);
      } else {
        this.writeOffset(firstPending);
      }
    } catch (err) {
      this.refused(err);
    }
  }

  /**
   * One fixed-width write in place per acknowledgement (a rename per verdict cost milliseconds of
   * the main thread): a killed process leaves the old record or the new one, never a mix.
   */
  private writeOffset(offset: number): void {
    // Opened without truncating: there is no moment when the file holds no record.
    if (this.offsetFd < 0) this.offsetFd = openSync(this.offsetFile, existsSync(this.offsetFile) ? "r+" : "w+");
    const record = Buffer.from(`${String(offset).padStart(OFFSET_DIGITS, "0")}\n`);
    writeSync(this.offsetFd, record, 0, record.length, 0);
  }

  close(): void {
    closeSync(this.fd);
    if (this.offsetFd >= 0) closeSync(this.offsetFd);
  }
}
