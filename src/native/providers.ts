// Execution providers in order of preference. onnxruntime-node rejects a provider it cannot load
// instead of falling back, so we try each alone and keep the first that works.
import { ort } from "./onnxruntime.js";

export const KNOWN_PROVIDERS = ["tensorrt", "cuda", "cpu"] as const;
export type ProviderName = (typeof KNOWN_PROVIDERS)[number];
export const DEFAULT_PROVIDERS: ProviderName[] = ["tensorrt", "cuda", "cpu"];

export interface SessionSettings {
  providers: ProviderName[];
  /** Threads inside one operator; 0 lets ONNX Runtime use every core. */
  intraOpThreads: number;
  interOpThreads: number;
  /** With the CPU provider: the inference worker on a CPU of its own, the rest of the process beside it (cpu-pinning.ts). */
  pinThreads: boolean;
}

export const DEFAULT_SESSION_SETTINGS: SessionSettings = { providers: DEFAULT_PROVIDERS, intraOpThreads: 0, interOpThreads: 1, pinThreads: true };

/** What a command line (--providers, --threads) or the daemon's config (inference:) chooses. */
export interface SessionChoices {
  providers?: ProviderName[];
  threads?: number;
  pinThreads?: boolean;
}

/** The settings of a session from what was chosen; the rest default. */
export function sessionSettings(given: SessionChoices): SessionSettings {
  return {
    ...DEFAULT_SESSION_SETTINGS,
    providers: given.providers ?? DEFAULT_SESSION_SETTINGS.providers,
    intraOpThreads: given.threads ?? DEFAULT_SESSION_SETTINGS.intraOpThreads,
    pinThreads: given.pinThreads ?? DEFAULT_SESSION_SETTINGS.pinThreads,
  };
}

export interface ProviderAttempt {
  provider: ProviderName;
  error: string;
}

export interface OpenedSession {
  session: ort.InferenceSession;
  provider: ProviderName;
  failed: ProviderAttempt[];
}

export async function openSession(modelPath: string, settings: SessionSettings): Promise<OpenedSession> {
  ort.env.logLevel = "fatal"; // probing logs each provider's load failure natively; we report them ourselves
  const failed: ProviderAttempt[] = [];
  for (const provider of settings.providers) {
    try {
      const session = await ort.InferenceSession.create(modelPath, {
        executionProviders: [provider],
        graphOptimizationLevel: "all",
        ...(settings.intraOpThreads > 0 ? { intraOpNumThreads: settings.intraOpThreads } : {}),
        ...(settings.interOpThreads > 0 ? { interOpNumThreads: settings.interOpThreads } : {}),
        executionMode: "sequential",
        logSeverityLevel: 3,
      });
      return { session, provider, failed };
    } catch (err) {
      failed.push({ provider, error: (err as Error).message.split("\n")[0] });
    }
  }
  const tried = failed.map((f) => `  ${f.provider}: ${f.error}`).join("\n");
  throw new Error(`no execution provider could run ${modelPath}:\n${tried}\n` +
    "Add \"cpu\" to the providers list, or check the GPU libraries (see docs/deploy-jetson.md).");
}
