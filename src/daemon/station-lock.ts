// One daemon per station and state folder: two of them writing the same verdict spool would
// overwrite each other's lines (a station started by hand while its service runs). A pid file,
// created exclusively; one left by a process that is gone (a crash, a power cut) is taken over.
// A full disk does not stop a start for want of a lock (the spool copes with one; see
// VerdictSpool): the station then runs unlocked and says so.
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";

import type { Logger } from "pino";

import { ConfigError } from "../config/config-file.js";
import { inStateDir } from "../config/daemon-config.js";

/** Who the pid file names (0: unreadable or gone), and whether that is a live inspector. */
function holderOf(file: string): { pid: number; alive: boolean } {
  let pid = 0;
  try {
    pid = Number(readFileSync(file, "utf8").trim()) || 0;
  } catch {
    // Removed in between: nobody holds it.
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return { pid, alive: false };
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: alive, another user's (the service's, while this one runs by hand).
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return { pid, alive: false };
  }
  try {
    // After a reboot the pid may belong to another program.
    return { pid, alive: readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("inspector") };
  } catch {
    return { pid, alive: true }; // no /proc (not Linux): trust the signal check
  }
}

const DISK_FULL = new Set(["ENOSPC", "EFBIG", "EDQUOT"]);

/** Creates the pid file: "created", "exists", or why a full disk would not let it be written. */
function create(file: string): "created" | "exists" | { diskFull: string } {
  try {
    writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
    return "created";
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (code === "EEXIST") return "exists";
    if (!DISK_FULL.has(code)) throw err;
    try {
      unlinkSync(file); // created but empty: it would read as stale anyway
    } catch {
      // Not created at all.
    }
    return { diskFull: `cannot write the station's lock ${file} (${code})` };
  }
}

export class StationLock {
  /** `problem`: why the station runs without a lock (the disk is full). */
  private constructor(private readonly file: string, readonly tookOverFrom?: number, readonly problem?: string) {}

  static acquire(dir: string, station: string): StationLock {
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${station}.pid`);
    let created = create(file);
    let stale: number | undefined;
    if (created === "exists") {
      const holder = holderOf(file);
      if (holder.alive) {
        throw new ConfigError(`station ${station} is already running (pid ${holder.pid}) with its verdict spool in ${dir}: one ` +
          `daemon per station. Stop that one first (systemctl stop inspector@${station}), or give this one another stateDir.`);
      }
      stale = holder.pid;
      unlinkSync(file);
      created = create(file);
      if (created === "exists") {
        throw new ConfigError(`station ${station}: another daemon took its lock ${file} as this one started. Stop one of them.`);
      }
    }
    return new StationLock(file, stale, created === "created" ? undefined : created.diskFull);
  }

  /** Acquired for the daemon: what it took over, or why it runs unlocked, is logged. */
  static take(stateDir: string, station: string, log: Logger): StationLock {
    const lock = inStateDir(stateDir, () => StationLock.acquire(stateDir, station));
    if (lock.tookOverFrom !== undefined) log.info({ stateDir, pid: lock.tookOverFrom }, "took over the station's lock from a process that is gone");
    if (lock.problem) {
      log.warn({ stateDir }, `${lock.problem}: a second daemon for this station would not be stopped. Free space in ${stateDir} and restart`);
    }
    return lock;
  }

  release(): void {
    try {
      unlinkSync(this.file);
    } catch {
      // Already gone: nothing to release.
    }
  }
}
