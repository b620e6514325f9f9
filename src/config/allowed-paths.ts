// Which folders a station may read from. A pipeline file names a bundle, an image folder, a video
// file, or files inside a GStreamer pipeline (location=…). With `allowedPaths` set in the daemon
// configuration, each of them must lie inside one of those folders once symlinks and ".." are
// resolved, so that a pipeline edited on the line cannot make the service read what it has no
// business with. Unset (null), a pipeline may name anything the service user can read.
import { realpathSync } from "node:fs";
import path from "node:path";

import type { StationConfig } from "./pipeline-config.js";
import { ConfigError } from "./config-file.js";

/** The real path of `p`, or of its nearest existing ancestor with the rest appended (a file not there yet). */
function realPath(p: string): string {
  const absolute = path.resolve(p);
  try {
    return realpathSync.native(absolute);
  } catch {
    const parent = path.dirname(absolute);
    return parent === absolute ? absolute : path.join(realPath(parent), path.basename(absolute));
  }
}

function isInside(target: string, root: string): boolean {
  const relative = path.relative(root, target);
  return relative === "" || (relative.split(path.sep)[0] !== ".." && !path.isAbsolute(relative));
}

/** The files and folders a pipeline reads, by the key that names them. */
export function pipelinePaths(pipeline: StationConfig): { key: string; value: string }[] {
  const paths = [{ key: "bundle", value: pipeline.bundle }];
  const source = pipeline.source;
  if (source.type === "folder") paths.push({ key: "source.path", value: source.path });
  if (source.type === "opencv" && source.file) paths.push({ key: "source.file", value: source.file });
  if (source.type === "opencv" && source.gstreamer) {
    for (const match of source.gstreamer.matchAll(/\blocation\s*=\s*("[^"]*"|'[^']*'|[^\s!]+)/g)) {
      paths.push({ key: "source.gstreamer location", value: match[1]!.replace(/^["']|["']$/g, "") });
    }
  }
  return paths;
}

export function checkPipelinePaths(pipeline: StationConfig & { file: string }, allowedPaths: string[] | null): void {
  if (allowedPaths === null) return;
  const roots = allowedPaths.map(realPath);
  const outside = pipelinePaths(pipeline)
    .map(({ key, value }) => ({ key, value, real: realPath(path.resolve(path.dirname(pipeline.file), value)) }))
    .filter(({ real }) => !roots.some((root) => isInside(real, root)));
  if (outside.length === 0) return;
  const lines = outside.map(({ key, value, real }) => `  ${key} = ${JSON.stringify(value)}${real !== value ? ` (${real})` : ""}: outside the allowed folders`);
  throw new ConfigError(`${pipeline.file}: ${outside.length} path${outside.length > 1 ? "s" : ""} outside allowedPaths ` +
    `(${roots.join(", ")}):\n${lines.join("\n")}\nMove the files into one of those folders, or add their folder to allowedPaths ` +
    "in the daemon configuration (docs/configuration.md).");
}
