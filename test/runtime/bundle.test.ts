// Bundle loading refuses every kind of mismatch with a message naming the file and the fix.
import { spawnSync } from "node:child_process";
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

import { beforeAll, describe, expect, it } from "vitest";

import { loadBundle, sha256Hex } from "../../src/inference/bundle.js";
import { allowedCpus, parseCpuList, planCpus } from "../../src/inference/cpu-pinning.js";
import { InferenceClient } from "../../src/inference/inference-client.js";
import { DEFAULT_SESSION_SETTINGS } from "../../src/native/providers.js";
import { makeTinyBundle } from "../helpers/python.js";

let work: string;
let original: string;

function copyBundle(name: string): string {
  const dir = path.join(work, name);
  rmSync(dir, { recursive: true, force: true });
  cpSync(original, dir, { recursive: true });
  return dir;
}

function editManifest(dir: string, edit: (m: Record<string, any>) => void): void {
  const file = path.join(dir, "manifest.json");
  const manifest = JSON.parse(readFileSync(file, "utf8"));
  edit(manifest);
  writeFileSync(file, JSON.stringify(manifest));
}

beforeAll(() => {
  ({ work, bundle: original } = makeTinyBundle("inspector-bundle-", { scales: "33" }));
});

describe("loadBundle", () => {
  it("loads a good bundle, uncalibrated unless calibration is required", () => {
    const bundle = loadBundle(original, { requireCalibration: false });
    expect(bundle.manifest.scales[0].patch_size).toBe(33);
    expect(bundle.id).toBe(bundle.sha256.slice(0, 12));
    expect(() => loadBundle(original, { requireCalibration: true })).toThrow(/not calibrated\. Run `inspector calibrate/);
  });

  it("names a missing folder and a missing manifest", () => {
    expect(() => loadBundle(path.join(work, "nowhere"), { requireCalibration: false })).toThrow(/no such bundle folder/);
    const dir = copyBundle("no-manifest");
    rmSync(path.join(dir, "manifest.json"));
    expect(() => loadBundle(dir, { requireCalibration: false })).toThrow(/manifest\.json: missing/);
  });

  it("rejects invalid JSON, another format, a newer version and schema errors", () => {
    const dir = copyBundle("bad-json");
    writeFileSync(path.join(dir, "manifest.json"), "{ not json");
    expect(() => loadBundle(dir, { requireCalibration: false })).toThrow(/not valid JSON/);
    const other = copyBundle("other-format");
    editManifest(other, (m) => { m.format = "something-else"; });
    expect(() => loadBundle(other, { requireCalibration: false })).toThrow(/not an inspector bundle manifest/);
    const newer = copyBundle("newer");
    editManifest(newer, (m) => { m.format_version = 99; });
    expect(() => loadBundle(newer, { requireCalibration: false })).toThrow(/format version 99; this inspector reads version 1/);
    const broken = copyBundle("schema");
    editManifest(broken, (m) => { m.input.colour = "purple"; delete m.scales[0].outputs; });
    expect(() => loadBundle(broken, { requireCalibration: false })).toThrow(/input\.colour[\s\S]*scales\.0\.outputs/);
  });

  it("detects a flipped byte in the model", () => {
    const dir = copyBundle("flipped");
    const model = readFileSync(path.join(dir, "model.onnx"));
    model[Math.floor(model.length / 2)] ^= 0xff;
    writeFileSync(path.join(dir, "model.onnx"), model);
    expect(() => loadBundle(dir, { requireCalibration: false })).toThrow(/model\.onnx: sha256 .* does not match manifest\.json/);
  });

  it("refuses a calibration made for another bundle", () => {
    const dir = copyBundle("foreign-calibration");
    const calibration = {
      format: "inspector-calibration", format_version: 1, created: "2026-01-01T00:00:00Z", bundle_sha256: "0".repeat(64),
      source: { good: "/x", good_images: 10, statistics_images: 7, threshold_images: 3 },
      scales: { 33: { error: { mean: 1, std: 1 }, variance: { mean: 1, std: 1 } } },
      scoring: { blur_sigma: 0 },
      thresholds: { image_lower: 1, image_upper: 1, pixel: 1, method: "false-reject", target_false_reject_rate: 0.01 },
      measured: {},
    };
    writeFileSync(path.join(dir, "calibration.json"), JSON.stringify(calibration));
    expect(() => loadBundle(dir, { requireCalibration: false })).toThrow(/made for another bundle \(000000000000…/);
  });

  it("refuses a graph whose shapes disagree with the manifest", async () => {
    const dir = copyBundle("wrong-shape");
    editManifest(dir, (m) => { m.scales[0].output_shape = [1, 1, 99, 99]; });
    const bundle = loadBundle(dir, { requireCalibration: false });
    await expect(InferenceClient.start(bundle, DEFAULT_SESSION_SETTINGS)).rejects.toThrow(/e_33 has shape \[1,1,16,16\], manifest\.json says \[1,1,99,99\]/);

    const input = copyBundle("wrong-input");
    editManifest(input, (m) => { m.input.shape = [1, 3, 32, 32]; });
    await expect(InferenceClient.start(loadBundle(input, { requireCalibration: false }), DEFAULT_SESSION_SETTINGS))
      .rejects.toThrow(/input "image" has shape \[batch,3,64,64\], manifest\.json says \[1,3,32,32\]/);
  });

  it("identifies the bundle by the sha256 of its manifest", () => {
    expect(loadBundle(original, { requireCalibration: false }).sha256).toBe(sha256Hex(readFileSync(path.join(original, "manifest.json"))));
  });
});

describe("execution providers", () => {
  it("falls back from tensorrt and cuda to cpu and says which failed", async () => {
    const worker = await InferenceClient.start(loadBundle(original, { requireCalibration: false }),
      { ...DEFAULT_SESSION_SETTINGS, providers: ["tensorrt", "cuda", "cpu"] });
    try {
      // This machine has no GPU libraries: both GPU providers must fail, and cpu must run.
      expect(worker.provider).toBe("cpu");
      expect(worker.failedProviders.map((f) => f.provider)).toEqual(["tensorrt", "cuda"]);
      expect(worker.failedProviders[0].error).toMatch(/TensorRT/);
      const result = await worker.run(new Float32Array(3 * 64 * 64).fill(128));
      expect(result.outputs.e_33.dims).toEqual([1, 1, 16, 16]);
    } finally {
      await worker.close();
    }
  });

  it("reports every failure when no listed provider can run", async () => {
    await expect(InferenceClient.start(loadBundle(original, { requireCalibration: false }),
      { ...DEFAULT_SESSION_SETTINGS, providers: ["tensorrt", "cuda"] }))
      .rejects.toThrow(/no execution provider could run[\s\S]*tensorrt:[\s\S]*cuda:[\s\S]*Add "cpu"/);
  });
});

describe("threads on the CPU", () => {
  it("reads the kernel's CPU lists and keeps the first CPU for inference", () => {
    expect(parseCpuList("0-3,6\n")).toEqual([0, 1, 2, 3, 6]);
    expect(parseCpuList("5")).toEqual([5]);
    expect(planCpus([2, 3, 5])).toEqual({ inference: [2], daemon: [3, 5] });
    expect(planCpus([0])).toBeUndefined(); // one CPU: nothing to separate
    expect(planCpus(undefined)).toBeUndefined(); // not Linux
  });

  /** The threads of this process that may run on exactly `cpus`. */
  function threadsOn(cpus: number[]): string[] {
    return readdirSync("/proc/self/task").filter((tid) => {
      const list = readFileSync(`/proc/self/task/${tid}/status`, "utf8").match(/^Cpus_allowed_list:\s*(.+)$/m)![1];
      return parseCpuList(list).join() === cpus.join();
    });
  }

  const cpus = allowedCpus();
  const canPin = cpus !== undefined && cpus.length >= 2 && spawnSync("taskset", ["-V"]).status === 0;
  it.skipIf(!canPin)("gives the worker a CPU of its own and this thread the rest, until the last worker closes (Linux, 2+ CPUs, taskset)", async () => {
    const bundle = loadBundle(original, { requireCalibration: false });
    const settings = { ...DEFAULT_SESSION_SETTINGS, providers: ["cpu" as const] };
    const started: InferenceClient[] = [];
    const start = async () => {
      const worker = await InferenceClient.start(bundle, settings);
      started.push(worker);
      return worker;
    };
    const [inferenceCpu, ...daemonCpus] = cpus!;
    try {
      const first = await start();
      expect(first.pinning).toBe(`inference on CPU ${inferenceCpu}, the rest on CPU ${daemonCpus.join(",")}`);
      expect(allowedCpus()).toEqual(daemonCpus);
      expect(threadsOn([inferenceCpu]).length).toBeGreaterThanOrEqual(1); // the worker
      // A reload runs two workers for a moment: the second gets the same plan, not one made from the pinned thread.
      const second = await start();
      expect(second.pinning).toBe(first.pinning);
      expect(threadsOn([inferenceCpu]).length).toBeGreaterThanOrEqual(2);
      await first.close();
      expect(allowedCpus()).toEqual(daemonCpus);
      await second.close();
      expect(allowedCpus()).toEqual(cpus);
      // Still usable for a bare loop on this thread afterwards, and pinnable again.
      const third = await start();
      expect(third.pinning).toBe(first.pinning);
      await third.close();
      expect(allowedCpus()).toEqual(cpus);
    } finally {
      // Closing twice is harmless: a failed assertion above must not leave workers (and this thread) pinned.
      for (const worker of started) await worker.close();
    }
  });

  it("leaves every thread where it was with pinThreads off", async () => {
    const before = allowedCpus();
    const worker = await InferenceClient.start(loadBundle(original, { requireCalibration: false }),
      { ...DEFAULT_SESSION_SETTINGS, providers: ["cpu"], pinThreads: false });
    try {
      expect(worker.pinning).toBeUndefined();
      expect(allowedCpus()).toEqual(before);
    } finally {
      await worker.close();
    }
  });
});
