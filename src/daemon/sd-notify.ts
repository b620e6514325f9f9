// systemd's notify protocol (Type=notify): READY=1, STATUS=, WATCHDOG=1, STOPPING=1 as datagrams
// on $NOTIFY_SOCKET. Node has no unix datagram sockets, so the optional unix-dgram addon sends
// them; outside systemd this is a no-op, and without the addon a logged soft failure.
import { createRequire } from "node:module";

import type { Logger } from "pino";

interface DgramSocket {
  send(buffer: Buffer, offset: number, length: number, path: string, callback?: (err?: Error) => void): void;
  close(): void;
}

export interface Notifier {
  notify(state: string): void;
  /** The watchdog interval systemd asked for (WatchdogSec=), or undefined when it is off. */
  watchdogMs?: number;
  close(): void;
}

/**
 * Feeds systemd's watchdog (WatchdogSec=) at half its interval while `healthy()` says so; a
 * station that stops feeding it is restarted. Returns the function that stops feeding.
 */
export function feedWatchdog(notifier: Notifier, healthy: () => boolean): () => void {
  if (!notifier.watchdogMs) return () => {};
  const timer = setInterval(() => { if (healthy()) notifier.notify("WATCHDOG=1"); }, notifier.watchdogMs / 2);
  return () => clearInterval(timer);
}

export function systemdNotifier(log: Logger, env: NodeJS.ProcessEnv = process.env): Notifier {
  const socketPath = env.NOTIFY_SOCKET;
  if (!socketPath) return { notify: () => {}, close: () => {} };
  let socket: DgramSocket;
  try {
    const unixDgram = createRequire(import.meta.url)("unix-dgram") as { createSocket(type: "unix_dgram"): DgramSocket };
    socket = unixDgram.createSocket("unix_dgram");
  } catch (err) {
    log.warn({ err: (err as Error).message }, "NOTIFY_SOCKET is set but the unix-dgram addon is missing: systemd will not " +
      "hear READY=1 (run npm ci with build tools, or use Type=simple)");
    return { notify: () => {}, close: () => {} };
  }
  // An abstract socket (@name) is addressed with a leading NUL byte.
  const address = socketPath.startsWith("@") ? `\0${socketPath.slice(1)}` : socketPath;
  const watchdogUsec = Number(env.WATCHDOG_USEC);
  const forUs = !env.WATCHDOG_PID || Number(env.WATCHDOG_PID) === process.pid;
  return {
    notify: (state) => {
      const message = Buffer.from(state);
      socket.send(message, 0, message.length, address, (err) => {
        if (err) log.warn({ err: err.message, state }, "systemd notification failed");
      });
    },
    watchdogMs: watchdogUsec > 0 && forUs ? watchdogUsec / 1000 : undefined,
    close: () => socket.close(),
  };
}
