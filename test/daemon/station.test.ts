// The daemon end to end, as a line runs it: real child processes, a real broker (aedes in-process
// and Debian's mosquitto), a real bundle trained and calibrated in this run, real files and video.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

import { Aedes } from "aedes";
import { beforeAll, describe, expect, it } from "vitest";

import { cv } from "../../src/native/opencv.js";
import { writeSyntheticDataset } from "../../src/sources/synthetic-dataset.js";
import { drawPart } from "../../src/sources/synthetic-part.js";
import { seededRandom } from "../../src/random/seeded-random.js";
import { freePort, MOSQUITTO, recorder, startDaemon, startMosquitto, waitFor, writeStation } from "../helpers/daemon.js";
import { CLI, calibratedTinyBundle } from "../helpers/python.js";

let work: string;
let bundle: string;
let parts: string;

beforeAll(() => {
  ({ work, bundle } = calibratedTinyBundle("inspector-daemon-", 20));
  writeSyntheticDataset({ out: path.join(work, "line"), count: 6, testPerKind: 0, size: 96, defects: [], seed: 7 });
  parts = path.join(work, "line", "train", "good");
});

function stationDir(name: string): string {
  const dir = path.join(work, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function inProcessAedes(): Promise<{ url: string; close(): Promise<void> }> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => {
      server.close();
      broker.close(() => resolve());
    }),
  };
}

/** A triggered station on its own embedded broker, started and running, with a recorder on its topics. */
async function triggeredStation(name: string, pipeline: object, env: NodeJS.ProcessEnv = {}, maxFileKb?: number) {
  const port = await freePort();
  const dir = stationDir(name);
  const { pipelineFile, configFile } = writeStation(dir,
    { station: name, bundle, source: { type: "synthetic", size: 96 }, ...pipeline },
    { mqtt: { embedded: { port } }, stateDir: path.join(dir, "state") });
  const daemon = startDaemon(pipelineFile, configFile, env, maxFileKb);
  await daemon.waitForLog(/station running/);
  const sub = await recorder(`mqtt://127.0.0.1:${port}`, [`inspector/${name}/verdict`, `inspector/${name}/status`]);
  return { daemon, sub };
}

const VERDICT_KEYS = ["station", "partId", "seq", "verdict", "code", "message", "score", "thresholds", "regions", "recipe",
  "triggeredAt", "capturedAt", "decidedAt", "latencyMs", "bundle", "calibration", "heatmap", "frame"];

describe("inspector run", () => {
  it("reads a folder once: one verdict per image, in order, then status offline and exit 0 (aedes in-process)", async () => {
    const broker = await inProcessAedes();
    const sub = await recorder(broker.url, ["inspector/line1/#"]);
    const dir = stationDir("folder");
    const { pipelineFile, configFile } = writeStation(dir,
      { station: "line1", bundle, source: { type: "folder", path: parts } },
      { mqtt: { url: broker.url }, stateDir: path.join(dir, "state") });
    const daemon = startDaemon(pipelineFile, configFile);
    expect(await daemon.exited, daemon.stderr()).toBe(0);
    await waitFor(() => sub.messages.filter((m) => m.topic.endsWith("/verdict")).length >= 6, 5000, "six verdicts");
    const verdicts = sub.messages.filter((m) => m.topic === "inspector/line1/verdict").map((m) => m.json());
    const files = readdirSync(parts).sort().map((f) => path.join(parts, f));
    expect(verdicts.map((v) => (v.frame as { name: string }).name)).toEqual(files);
    expect(verdicts.map((v) => v.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const v of verdicts) {
      expect(Object.keys(v)).toEqual(VERDICT_KEYS);
      expect(["OK", "NG", "UNCERTAIN"]).toContain(v.verdict);
      expect(Object.keys(v.latencyMs as object)).toEqual(["queue", "grab", "preprocess", "infer", "score", "heatmap", "total"]);
    }
    // aedes speaks MQTT 3.1.1 only: the daemon fell back, and heatmaps carry the part id in the topic.
    const heatmaps = sub.messages.filter((m) => m.topic.startsWith("inspector/line1/heatmap/"));
    expect(heatmaps.map((m) => m.topic)).toEqual(verdicts.map((v) => (v.heatmap as { topic: string }).topic));
    expect(heatmaps[0].payload.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8])); // JPEG
    const statuses = sub.messages.filter((m) => m.topic === "inspector/line1/status").map((m) => m.json());
    expect(statuses[0]).toMatchObject({ state: "online", station: "line1", bundle: verdicts[0].bundle });
    expect(statuses.at(-1)).toMatchObject({ state: "offline", reason: "the source has no more frames" });
    await sub.client.endAsync();
    await broker.close();
  });

  it("starts the embedded broker, answers MQTT triggers with the same part ids, refuses bad ones, stops on SIGTERM", async () => {
    const { daemon, sub } = await triggeredStation("press2", { trigger: { type: "mqtt", queue: 8 } });
    expect(daemon.logs.some((l) => /embedded MQTT broker/.test(String(l.msg)))).toBe(true);
    for (const payload of ["A-1", '{"partId":"A-2"}', '{"partId": 3}', '{"partId": true}', Buffer.from([0xff, 0xfe]), "A-5"]) {
      sub.client.publish("inspector/press2/trigger", payload, { qos: 1 });
    }
    sub.client.publish("inspector/press2/not-a-trigger", "A-6");
    await waitFor(() => sub.messages.filter((m) => m.topic.endsWith("/verdict")).length >= 6, 30_000, "six verdicts");
    const verdicts = sub.messages.filter((m) => m.topic.endsWith("/verdict")).map((m) => m.json());
    expect(verdicts.filter((v) => v.code !== "BAD_TRIGGER").map((v) => v.partId)).toEqual(["A-1", "A-2", "3", "A-5"]);
    const refused = verdicts.filter((v) => v.code === "BAD_TRIGGER");
    expect(refused).toHaveLength(2);
    expect(refused.map((v) => v.message).sort()).toEqual(['trigger refused: the JSON needs "partId": a string or an integer',
      "trigger refused: the payload is not valid UTF-8 text"]);
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(verdicts).toHaveLength(6); // nothing for the other topic
    const last = sub.messages.filter((m) => m.topic.endsWith("/status")).at(-1)!;
    expect(last.json()).toMatchObject({ state: "offline", reason: "SIGTERM" });
    await sub.client.endAsync(true);
  });

  it("on SIGTERM mid-run answers every part already triggered, says offline, and exits 0 well within the stop timeout", async () => {
    const { daemon, sub } = await triggeredStation("drain", { trigger: { type: "mqtt", queue: 16 } });
    const ids = Array.from({ length: 8 }, (_, i) => `D-${i}`);
    for (const id of ids) await sub.client.publishAsync("inspector/drain/trigger", id, { qos: 1 });
    await waitFor(() => sub.messages.some((m) => m.topic.endsWith("/verdict")), 30_000, "the first verdict");
    const answeredBefore = sub.messages.filter((m) => m.topic.endsWith("/verdict")).length;
    const stopped = Date.now();
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    const stopSeconds = (Date.now() - stopped) / 1000;
    const verdicts = sub.messages.filter((m) => m.topic.endsWith("/verdict")).map((m) => m.json());
    expect(verdicts.map((v) => v.partId)).toEqual(ids);
    expect(verdicts.every((v) => v.code === null)).toBe(true);
    expect(sub.messages.filter((m) => m.topic.endsWith("/status")).at(-1)!.json()).toMatchObject({ state: "offline", reason: "SIGTERM" });
    console.info(`drain: SIGTERM with ${ids.length - answeredBefore} of ${ids.length} parts not yet answered → all answered, ` +
      `exit 0 after ${stopSeconds.toFixed(2)} s`);
    expect(stopSeconds).toBeLessThan(30); // TimeoutStopSec of the unit
    await sub.client.endAsync(true);
  });

  it("leaves at once on a second SIGTERM: exit 1, not a crash of the inference worker torn down mid-run", async () => {
    const { daemon } = await triggeredStation("impatient", { trigger: { type: "continuous", minIntervalMs: 0 } });
    await daemon.waitForLog(/ part /);
    daemon.child.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 20));
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(1);
    expect(daemon.child.signalCode).toBeNull();
    expect(daemon.stderr()).not.toMatch(/terminate called/);
    expect(daemon.logs.some((l) => /SIGTERM again: leaving without draining/.test(String(l.msg)))).toBe(true);
  });

  it("stops when told to during start-up: no part judged, exit 0, instead of judging on or hanging", async () => {
    // Nobody answers on this port: start-up waits 5 s for the broker, and the SIGTERM lands there.
    const port = await freePort();
    const dir = stationDir("early");
    const { pipelineFile, configFile } = writeStation(dir,
      { station: "early", bundle, source: { type: "synthetic", size: 96 }, trigger: { type: "continuous", minIntervalMs: 0 } },
      { mqtt: { url: `mqtt://127.0.0.1:${port}` }, stateDir: path.join(dir, "state") });
    const daemon = startDaemon(pipelineFile, configFile);
    await daemon.waitForLog(/runs on/);
    daemon.child.kill("SIGTERM");
    const code = await Promise.race([daemon.exited, new Promise((resolve) => setTimeout(() => resolve("still running"), 30_000))]);
    expect(code).toBe(0);
    expect(daemon.logs.filter((l) => / part /.test(String(l.msg)))).toEqual([]);
    expect(daemon.logs.some((l) => /station running/.test(String(l.msg)))).toBe(false);
    expect(daemon.logs.at(-1)).toMatchObject({ msg: "stopped", parts: 0, spooled: 0 });
  });

  it("keeps judging when the disk refuses the spool: verdicts kept in memory and delivered in order, status degraded", async () => {
    // `ulimit -f 0`: every write to a file fails (EFBIG), from the spool's first offset record on.
    const { daemon, sub } = await triggeredStation("fulldisk", { trigger: { type: "mqtt", queue: 8 } }, {}, 0);
    const ids = Array.from({ length: 6 }, (_, i) => `F-${i}`);
    for (const id of ids) await sub.client.publishAsync("inspector/fulldisk/trigger", id, { qos: 1 });
    await waitFor(() => sub.messages.filter((m) => m.topic.endsWith("/verdict")).length >= ids.length, 30_000, "six verdicts");
    const verdicts = sub.messages.filter((m) => m.topic.endsWith("/verdict")).map((m) => m.json());
    expect(verdicts.map((v) => v.partId)).toEqual(ids);
    expect(verdicts.map((v) => v.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(verdicts.every((v) => v.code === null)).toBe(true);
    const status = sub.messages.filter((m) => m.topic.endsWith("/status")).at(-1)!.json();
    expect(status).toMatchObject({ state: "degraded" });
    expect(String(status.reason)).toMatch(/cannot write the verdict spool .*fulldisk\.spool\.jsonl/);
    expect(daemon.logs.filter((l) => /cannot write the verdict spool/.test(String(l.msg)))).toHaveLength(1);
    // Nor could it write its lock: it runs without one rather than not at all, and says so.
    expect(daemon.logs.some((l) => /cannot write the station's lock .*EFBIG.*would not be stopped/.test(String(l.msg)))).toBe(true);
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    expect(daemon.logs.at(-1)).toMatchObject({ msg: "stopped", delivered: ids.length, spooled: 0 });
    await sub.client.endAsync(true);
  });

  it("refuses a stateDir it cannot write at start, naming it (exit 2)", async () => {
    const dir = stationDir("nostate");
    const blocker = path.join(dir, "a-file");
    writeFileSync(blocker, "");
    const { pipelineFile, configFile } = writeStation(dir, { station: "nostate", bundle, source: { type: "synthetic", size: 96 } },
      { mqtt: { embedded: { port: await freePort() } }, stateDir: path.join(blocker, "state") });
    const daemon = startDaemon(pipelineFile, configFile);
    expect(await daemon.exited).toBe(2);
    expect(daemon.stderr()).toMatch(/stateDir .*a-file\/state: cannot keep the verdict spool there \(ENOTDIR.*Set stateDir to a folder/);
  });

  it("refuses a second daemon for the same station and state folder, naming the first; takes over a lock whose process is gone", async () => {
    const dir = stationDir("twin");
    const state = path.join(dir, "state");
    mkdirSync(state, { recursive: true });
    // A lock left by a process that is gone (killed, a power cut): taken over, and said so.
    const gone = spawnSync(process.execPath, ["-e", ""]).pid;
    writeFileSync(path.join(state, "twin.pid"), `${gone}\n`);
    const { pipelineFile, configFile } = writeStation(dir,
      { station: "twin", bundle, source: { type: "synthetic", size: 96 }, trigger: { type: "mqtt" } },
      { mqtt: { embedded: { port: await freePort() } }, stateDir: state });
    const first = startDaemon(pipelineFile, configFile);
    expect(await first.waitForLog(/took over the station's lock/)).toMatchObject({ pid: gone });
    await first.waitForLog(/station running/);
    expect(readFileSync(path.join(state, "twin.pid"), "utf8").trim()).toBe(String(first.child.pid));
    // Started by hand while the service runs: stopped before it loads anything, the first untouched.
    const second = startDaemon(pipelineFile, configFile);
    expect(await second.exited).toBe(2);
    expect(second.stderr()).toMatch(new RegExp(`station twin is already running \\(pid ${first.child.pid}\\) .*another stateDir`));
    expect(first.child.exitCode).toBeNull();
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(existsSync(path.join(state, "twin.pid"))).toBe(false);
  });

  it("exits with the reason when the embedded broker's port is taken, instead of hanging", async () => {
    const port = await freePort();
    const taken = createServer().listen(port, "127.0.0.1");
    const dir = stationDir("taken");
    const { pipelineFile, configFile } = writeStation(dir, { station: "taken", bundle, source: { type: "synthetic", size: 96 } },
      { mqtt: { embedded: { port } }, stateDir: path.join(dir, "state") });
    const daemon = startDaemon(pipelineFile, configFile);
    const code = await Promise.race([daemon.exited, new Promise((resolve) => setTimeout(() => resolve("still running"), 30_000))]);
    taken.close();
    expect(code).toBe(2);
    expect(daemon.stderr()).toMatch(new RegExp(`port ${port} on 127.0.0.1 is already in use .*mqtt.embedded.port`));
  });

  it("grabs each part's frame when its trigger comes, not when the parts ahead of it are done", async () => {
    // The demo bundle: inference takes several times as long as drawing a 128² synthetic part.
    const { daemon, sub } = await triggeredStation("conveyor", {
      bundle: path.resolve("models/demo"), source: { type: "synthetic", size: 128 }, trigger: { type: "mqtt", queue: 8 },
    });
    const ids = ["C-1", "C-2", "C-3", "C-4"];
    for (const id of ids) sub.client.publish("inspector/conveyor/trigger", id, { qos: 1 });
    await waitFor(() => sub.messages.filter((m) => m.topic.endsWith("/verdict")).length >= ids.length, 30_000, "four verdicts");
    const verdicts = sub.messages.filter((m) => m.topic.endsWith("/verdict")).map((m) => m.json());
    expect(verdicts.map((v) => v.partId)).toEqual(ids);
    const firstDecided = Date.parse(verdicts[0]!.decidedAt as string);
    // Every part of the burst was in front of the camera before the first verdict was out.
    for (const v of verdicts) expect(Date.parse(v.capturedAt as string)).toBeLessThanOrEqual(firstDecided);
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    await sub.client.endAsync(true);
  });

  it("speaks systemd's notify protocol: READY=1 when running, WATCHDOG=1 while healthy, STOPPING=1 on SIGTERM", async () => {
    const dir = stationDir("systemd");
    const socketPath = path.join(dir, "notify.sock");
    const unixDgram = createRequire(import.meta.url)("unix-dgram") as {
      createSocket(type: string, listener: (message: Buffer) => void): { bind(p: string): void; close(): void };
    };
    const received: string[] = [];
    const socket = unixDgram.createSocket("unix_dgram", (message) => received.push(message.toString()));
    socket.bind(socketPath);
    const { pipelineFile, configFile } = writeStation(dir,
      { station: "sd", bundle, source: { type: "synthetic", size: 96 }, trigger: { type: "mqtt" } },
      { mqtt: { embedded: { port: await freePort() } }, stateDir: path.join(dir, "state") });
    const daemon = startDaemon(pipelineFile, configFile, { NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: "400000" });
    await waitFor(() => received.some((m) => m.startsWith("READY=1")), 60_000, "READY=1");
    await waitFor(() => received.includes("WATCHDOG=1"), 5_000, "WATCHDOG=1");
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    socket.close();
    expect(received.find((m) => m.startsWith("READY=1"))).toContain("STATUS=station sd");
    expect(received.some((m) => m.startsWith("STOPPING=1"))).toBe(true);
  });

  it("inspects the frames of a video file through the OpenCV source", async () => {
    const dir = stationDir("video");
    const video = path.join(dir, "parts.avi");
    const writer = new cv.VideoWriter(video, cv.VideoWriter.fourcc("MJPG"), 5, new cv.Size(128, 128), true);
    const random = seededRandom(3);
    for (let i = 0; i < 5; i++) writer.write(drawPart(128, i === 2 ? "scratch" : null, random).image);
    writer.release();
    const broker = await inProcessAedes();
    const sub = await recorder(broker.url, ["inspector/cam/verdict"]);
    const { pipelineFile, configFile } = writeStation(dir,
      { station: "cam", bundle, source: { type: "opencv", file: "parts.avi" } },
      { mqtt: { url: broker.url, protocolVersion: 4 }, stateDir: path.join(dir, "state") });
    const daemon = startDaemon(pipelineFile, configFile);
    expect(await daemon.exited, daemon.stderr()).toBe(0);
    await waitFor(() => sub.messages.length >= 5, 5000, "five verdicts");
    expect(sub.messages.map((m) => m.json().seq)).toEqual([1, 2, 3, 4, 5]);
    await sub.client.endAsync();
    await broker.close();
  });

  it("calibrates at the station: captures N good parts through the pipeline's source and ROI", () => {
    const dir = stationDir("capture");
    const copy = path.join(dir, "bundle");
    cpSync(bundle, copy, { recursive: true, filter: (src) => !src.endsWith("calibration.json") });
    const { pipelineFile } = writeStation(dir,
      { station: "cal", bundle: "bundle", source: { type: "synthetic", size: 96, defectRate: 0 }, roi: { x: 8, y: 8, width: 80, height: 80 } }, {});
    const keep = path.join(dir, "captured");
    const run = spawnSync(process.execPath, [CLI, "calibrate", "--pipeline", pipelineFile, "--count", "12", "--keep", keep], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(path.join(copy, "calibration.json"));
    const captured = readdirSync(keep).sort();
    expect(captured).toHaveLength(12);
    expect(captured[0]).toBe("capture-0001.png");
    const first = cv.imread(path.join(keep, captured[0]));
    expect([first.cols, first.rows]).toEqual([80, 80]);
  });

  it("bench reports every stage, the bare session.run loop and their ratio", () => {
    const dir = stationDir("bench");
    const { pipelineFile } = writeStation(dir, { station: "bench", bundle, source: { type: "folder", path: parts } }, {});
    const run = spawnSync(process.execPath, [CLI, "bench", "--pipeline", pipelineFile, "--parts", "4", "--warmup", "1", "--json"], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(Object.keys(report)).toEqual(["station", "bundle", "provider", "parts", "warmup", "stagesMs", "endToEndMs", "perPartMs",
      "partsPerSecond", "mainThreadMsPerPart", "mainThreadCpuMsPerPart", "processCpuMsPerPart", "peakRssMb", "rssMb", "bare", "ratio", "paceMs", "latencyRatio", "torch", "errors", "date"]);
    expect(report.rssMb.atEnd).toBeGreaterThan(0);
    expect(report.mainThreadMsPerPart).toBeGreaterThan(0);
    // Linux: read from /proc; a handful of parts may fall inside one 10 ms clock tick.
    expect(report.mainThreadCpuMsPerPart).toBeGreaterThanOrEqual(0);
    // Every thread: at least the main thread's share, and inference's besides.
    expect(report.processCpuMsPerPart).toBeGreaterThan(0);
    expect(report.rssMb.afterTenth).toBeGreaterThan(0);
    // The tiny bundle was trained here, so its weights are at hand for the PyTorch comparison.
    expect(Object.keys(report.torch)).toEqual(["runMs", "threads", "version", "speedup"]);
    expect(Object.keys(report.stagesMs)).toEqual(["grab", "preprocess", "infer", "score", "heatmap", "publish"]);
    for (const s of [...Object.values(report.stagesMs), report.endToEndMs, report.perPartMs, report.bare.runMs] as Record<string, number>[]) {
      expect(Object.keys(s)).toEqual(["median", "p95", "max"]);
      expect(s.median).toBeGreaterThanOrEqual(0);
      expect(s.p95).toBeGreaterThanOrEqual(s.median);
    }
    expect(report).toMatchObject({ station: "bench", provider: "cpu", parts: 4, warmup: 1, errors: 0 });
    expect(report.ratio).toBeGreaterThan(0);
    expect(report.peakRssMb).toBeGreaterThan(0);

    // A bundle alone (no station, no calibration needed): session.run and PyTorch only.
    const alone = spawnSync(process.execPath, [CLI, "bench", "--bundle", bundle, "--parts", "3", "--warmup", "1", "--threads", "1", "--json"],
      { encoding: "utf8" });
    expect(alone.status, alone.stderr).toBe(0);
    const bundleReport = JSON.parse(alone.stdout);
    expect(Object.keys(bundleReport)).toEqual(["bundle", "dir", "mode", "scales", "input", "provider", "threads", "runs", "runMs",
      "runsPerSecond", "torch", "date"]);
    expect(bundleReport).toMatchObject({ bundle: report.bundle, scales: [33], provider: "cpu", threads: 1, runs: 3 });
    expect(bundleReport.runMs.p95).toBeGreaterThanOrEqual(bundleReport.runMs.median);
    expect(Object.keys(bundleReport.torch)).toEqual(["runMs", "threads", "version", "speedup"]);

    // --paced keeps the pipeline's own pace; a pipeline without one is refused with the key to set.
    const refused = spawnSync(process.execPath, [CLI, "bench", "--pipeline", pipelineFile, "--paced", "--parts", "2"], { encoding: "utf8" });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain("set trigger.minIntervalMs");
    const pacedDir = stationDir("bench-paced");
    const paced = writeStation(pacedDir, { station: "paced", bundle, source: { type: "folder", path: parts },
      trigger: { type: "continuous", minIntervalMs: 150 } }, {});
    const pacedRun = spawnSync(process.execPath, [CLI, "bench", "--pipeline", paced.pipelineFile, "--paced", "--parts", "6", "--warmup", "1",
      "--json"], { encoding: "utf8" });
    expect(pacedRun.status, pacedRun.stderr).toBe(0);
    const pacedReport = JSON.parse(pacedRun.stdout);
    expect(pacedReport.paceMs).toBe(150);
    // Parts are triggered one every 150 ms, so two verdicts lie 150 ms apart give or take how much
    // longer one part took than the other: never closer than the pace less the slowest part's
    // trigger-to-verdict time (a loaded CI machine stretches that, not the pace).
    expect(pacedReport.perPartMs.median).toBeGreaterThanOrEqual(150 - pacedReport.endToEndMs.max - 1);
    expect(pacedReport.latencyRatio).toBeGreaterThan(0);
  });

  it("refuses an invalid pipeline with every problem named", () => {
    const dir = stationDir("invalid");
    const { pipelineFile, configFile } = writeStation(dir,
      { station: "bad station", bundle, source: { type: "webcam" }, trigger: { type: "mqtt", queue: -1 }, colour: "red" }, {});
    const run = spawnSync(process.execPath, [CLI, "run", "--pipeline", pipelineFile, "--config", configFile], { encoding: "utf8" });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`${pipelineFile}: 4 problems`);
    expect(run.stderr).toContain('station = "bad station": 1–64 letters');
    expect(run.stderr).toContain("source.type");
    expect(run.stderr).toContain("trigger.queue = -1");
    expect(run.stderr).toContain("colour: unknown key");
  });
});

describe.skipIf(!MOSQUITTO)("inspector run with mosquitto", () => {
  it("answers a burst of triggers in order, and the broker publishes the Last Will when the daemon is killed", async () => {
    const broker = await startMosquitto(await freePort());
    const dir = stationDir("mosquitto");
    const { pipelineFile, configFile } = writeStation(dir,
      { station: "weld", bundle, source: { type: "folder", path: parts, loop: true }, trigger: { type: "mqtt", queue: 16 } },
      { mqtt: { url: broker.url }, stateDir: path.join(dir, "state") });
    const daemon = startDaemon(pipelineFile, configFile);
    await daemon.waitForLog(/station running/);
    await daemon.waitForLog(/connected to the MQTT broker/);
    const sub = await recorder(broker.url, ["inspector/weld/verdict", "inspector/weld/status", "inspector/weld/heatmap"]);
    const ids = Array.from({ length: 10 }, (_, i) => `W-${1000 + i}`);
    for (const id of ids) sub.client.publish("inspector/weld/trigger", id, { qos: 1 });
    await waitFor(() => sub.messages.filter((m) => m.topic.endsWith("/verdict")).length >= ids.length, 30_000, "ten verdicts");
    const verdicts = sub.messages.filter((m) => m.topic.endsWith("/verdict")).map((m) => m.json());
    expect(verdicts.map((v) => v.partId)).toEqual(ids);
    // mosquitto speaks MQTT 5: one heatmap topic, the part id in a user property.
    const heatmaps = sub.messages.filter((m) => m.topic === "inspector/weld/heatmap");
    expect(heatmaps).toHaveLength(ids.length);
    daemon.child.kill("SIGKILL");
    await waitFor(() => sub.messages.some((m) => m.topic.endsWith("/status") && m.json().state === "offline"), 10_000, "the Last Will");
    expect(sub.messages.filter((m) => m.topic.endsWith("/status")).at(-1)!.json()).toMatchObject({ state: "offline", reason: "connection lost" });
    await sub.client.endAsync(true);
    await broker.stop();
  });

  it("spools verdicts while the broker is down and delivers them, in order with their timestamps, after a restart", async () => {
    const port = await freePort();
    const dir = stationDir("spool");
    const state = path.join(dir, "state");
    const first = writeStation(dir, { station: "pack", bundle, source: { type: "synthetic", size: 96, count: 5 } },
      { mqtt: { url: `mqtt://127.0.0.1:${port}`, reconnectMs: { min: 200, max: 400 } }, stateDir: state });
    const offline = startDaemon(first.pipelineFile, first.configFile);
    expect(await offline.exited, offline.stderr()).toBe(0);
    expect(offline.logs.at(-1)).toMatchObject({ spooled: 5, delivered: 0 });
    const restartedAt = new Date().toISOString();

    const broker = await startMosquitto(port);
    const sub = await recorder(broker.url, ["inspector/pack/verdict"]);
    const second = writeStation(mkdtempSync(path.join(tmpdir(), "inspector-spool-")),
      { station: "pack", bundle, source: { type: "synthetic", size: 96, count: 2, seed: 9 } },
      { mqtt: { url: broker.url }, stateDir: state });
    const online = startDaemon(second.pipelineFile, second.configFile);
    expect(await online.exited, online.stderr()).toBe(0);
    await waitFor(() => sub.messages.length >= 7, 10_000, "seven verdicts");
    const verdicts = sub.messages.map((m) => m.json());
    expect(verdicts.map((v) => v.seq)).toEqual([1, 2, 3, 4, 5, 1, 2]);
    for (const v of verdicts.slice(0, 5)) expect(String(v.decidedAt) < restartedAt).toBe(true);
    expect(verdicts.slice(0, 5).every((v) => v.heatmap === null)).toBe(true); // never sent: not pointed at
    await sub.client.endAsync();
    await broker.stop();
  });
});
