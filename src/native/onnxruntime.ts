// The one way into onnxruntime-node, so that its telemetry is off before it loads (ort-telemetry.ts);
// ES modules run their imports in order.
import "./ort-telemetry.js";
import * as ort from "onnxruntime-node";

export { ort };
