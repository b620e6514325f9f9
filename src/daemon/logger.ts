// Logs: pino JSON lines on stdout (journald keeps them), human-readable on a terminal. Secrets are
// redacted wherever they appear in a logged object.
import { pino, type Logger } from "pino";

import type { DaemonConfig } from "../config/daemon-config.js";

export function createLogger(config: DaemonConfig["logging"]): Logger {
  const pretty = config.format === "pretty" || (config.format === "auto" && process.stdout.isTTY);
  return pino({
    level: config.level,
    base: { pid: process.pid },
    redact: { paths: ["password", "*.password", "*.*.password", "key", "*.key", "*.*.key"], censor: "[redacted]" },
    ...(pretty && {
      transport: { target: "pino-pretty", options: { colorize: true, singleLine: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" } },
    }),
  });
}
