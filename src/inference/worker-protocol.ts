// Messages between the inference worker and its client.
import type { ProviderAttempt, ProviderName } from "./providers.js";

export interface WorkerRequest {
  id: number;
  data: Float32Array;
  dims: number[];
}

export interface ValueInfo {
  name: string;
  shape: (number | string)[];
}

export type WorkerReply =
  | { type: "ready"; provider: ProviderName; failed: ProviderAttempt[]; inputs: ValueInfo[]; outputs: ValueInfo[] }
  | { type: "failed"; error: string }
  | { type: "result"; id: number; outputs: Record<string, { data: Float32Array; dims: number[] }>; inferMs: number }
  | { type: "error"; id: number; error: string };
