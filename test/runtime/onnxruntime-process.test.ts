// What onnxruntime-node could do to the process around it: call out with usage telemetry (off
// unless asked for), and abort the whole process when its worker is torn down mid-run.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

import { BundleRunner } from "../../src/inference/bundle-runner.js";
import { cv } from "../../src/native/opencv.js";
import { drawPart } from "../../src/sources/synthetic-part.js";
import { seededRandom } from "../../src/random/seeded-random.js";
import { CLI } from "../helpers/python.js";

// Found among libonnxruntime.so's strings next to its telemetry; CI=false or empty counts as unset.
const CI_MARKERS = ["CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "JENKINS_URL",
  "CODEBUILD_BUILD_ID", "BUILDKITE", "TEAMCITY_VERSION", "APPVEYOR", "BITBUCKET_BUILD_NUMBER",
  "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI"];
const DEMO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "models", "demo");

describe("onnxruntime-node in our processes", () => {
  it("sends no telemetry and leaves no files behind unless ORT_DISABLE_TELEMETRY=0 asks for it", () => {
    const work = mkdtempSync(path.join(tmpdir(), "inspector-telemetry-"));
    const image = path.join(work, "part.png");
    cv.imwrite(image, drawPart(256, null, seededRandom(3)).image);
    const infer = (home: string, env: NodeJS.ProcessEnv) => {
      const inherited = { ...process.env };
      delete inherited.ORT_DISABLE_TELEMETRY;
      // The library keeps its telemetry off by itself where one of these says it runs under CI
      // (CI=true, as CI runners set it): both runs below would then prove nothing, or fail.
      for (const name of CI_MARKERS) delete inherited[name];
      const result = spawnSync(process.execPath, [CLI, "infer", "--bundle", DEMO, image],
        { encoding: "utf8", env: { ...inherited, HOME: home, ...env } });
      expect(result.status, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout.trim()).verdict).toMatch(/OK|NG|UNSURE/);
      return result.pid;
    };
    const quiet = path.join(work, "home-default");
    const started = Date.now() - 1000; // file times may be coarser than the clock
    const pid = infer(quiet, {});
    // The library's telemetry keeps a device id and a database under ~/.cache/Microsoft (and looks
    // up Microsoft's collector to upload it); the same switch stops its /tmp/mat-debug-PID.log.
    expect(existsSync(quiet) ? readdirSync(quiet) : []).toEqual([]);
    // (A file of that name older than the run was left by an earlier process with the same pid.)
    const debugLog = path.join(tmpdir(), `mat-debug-${pid}.log`);
    expect(existsSync(debugLog) && statSync(debugLog).mtimeMs >= started).toBe(false);
    // The check above can fail: with telemetry asked for, the library writes there.
    const asked = path.join(work, "home-asked");
    infer(asked, { ORT_DISABLE_TELEMETRY: "0" });
    expect(existsSync(path.join(asked, ".cache", "Microsoft"))).toBe(true);
  });

  it("closes its worker after the run in flight, not in the middle of it, and refuses runs after", async () => {
    const runner = await BundleRunner.open(DEMO, { requireCalibration: true });
    const length = runner.bundle.manifest.input.shape.reduce((a, b) => a * b, 1);
    const inFlight = runner.worker.run(new Float32Array(length));
    // The demo graph runs for tens of milliseconds: the worker is inside session.run now.
    // Terminated there, onnxruntime-node aborts this whole process (vitest would report the crash).
    await new Promise((resolve) => setTimeout(resolve, 10));
    await runner.close();
    expect(Object.keys((await inFlight).outputs).length).toBeGreaterThan(0);
    await expect(runner.worker.run(new Float32Array(length))).rejects.toThrow(/closed/);
  }, 30_000);
});
