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
type Mat = import("@u4/opencv4nodejs").Mat;

/**
 * Releases intermediate Mats as soon as a result no longer needs them. The binding reports Mat
 * memory to V8, so intermediates left to the collector made it run a full collection every few
 * parts on the station's thread, taking CPU from inference (measured: docs/PERFORMANCE.md).
 */
export function freed<T>(result: T, ...intermediates: Mat[]): T {
  for (const mat of intermediates) if (mat !== (result as unknown)) mat.release();
  return result;
}

export { cv };
export type { Mat };
