// onnxruntime-node 1.30 for Linux collects usage telemetry: on loading it looks up
// mobile.events.data.microsoft.com to upload it, keeps a device id and a database in
// ~/.cache/Microsoft/DeveloperTools/.onnxruntime and leaves an empty /tmp/mat-debug-PID.log per
// process (all seen with strace). An inspection station on a plant network must not call out
// unasked, so it is off unless the environment turns it on (ORT_DISABLE_TELEMETRY=0). Set on the
// main thread before the library loads: workers see the process's environment, and the library
// reads it when it loads.
process.env.ORT_DISABLE_TELEMETRY ??= "1";

export {};
