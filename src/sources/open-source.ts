// The source a pipeline names.
import type { SourceConfig } from "../config/pipeline-config.js";
import { FolderSource } from "./folder-source.js";
import type { FrameSource } from "./frame-source.js";
import { OpencvSource } from "./opencv-source.js";
import { SyntheticSource } from "./synthetic-source.js";

export function createSource(config: SourceConfig): FrameSource {
  switch (config.type) {
    case "folder": return new FolderSource(config.path, config.loop);
    case "synthetic": return new SyntheticSource(config);
    case "opencv": return new OpencvSource(config);
  }
}
