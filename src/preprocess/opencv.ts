// One place that loads the OpenCV binding, so that its settings apply everywhere.
// The addon is compiled against the system's OpenCV (OPENCV4NODEJS_DISABLE_AUTOBUILD=1): without
// the variable at run time its loader looks for a private OpenCV build. Its build helper logs to
// stdout when loading, which would corrupt JSON output (logs, `inspector infer`): silence it.
process.env.OPENCV4NODEJS_DISABLE_AUTOBUILD ??= "1";
// OpenCV's own warnings (e.g. imread on a missing file) would duplicate our messages on stderr.
process.env.OPENCV_LOG_LEVEL ??= "ERROR";
const { Log } = await import("@u4/opencv-build");
Log.silence = true;
const { cv } = await import("@u4/opencv4nodejs");

export { cv };
export type { Mat } from "@u4/opencv4nodejs";
