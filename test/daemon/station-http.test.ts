// The daemon's HTTP side and image archive as a line runs them: a real daemon process on the
// shipped demo bundle, its embedded broker, real HTTP requests. /metrics parsed and compared with
// the verdicts on MQTT, the token, parts served from memory, the archive kept on disk and read
// back by `inspector calibrate`, and an archive that cannot be written.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { freePort, recorder, startDaemon, waitFor, writeStation } from "../helpers/daemon.js";
import { CLI, REPO } from "../helpers/python.js";

const DEMO_BUNDLE = path.join(REPO, "models", "demo");
const TOKEN = "station-page-token-0123";

/** Prometheus's text format → sample name with labels → value. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

async function station(name: string, pipeline: object, before: (dir: string) => void = () => {}, maxFileKb?: number) {
  const [brokerPort, httpPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(path.join(tmpdir(), `inspector-http-${name}-`));
  before(dir);
  const { pipelineFile, configFile } = writeStation(dir, { station: name, bundle: DEMO_BUNDLE, ...pipeline },
    { mqtt: { embedded: { port: brokerPort } }, stateDir: path.join(dir, "state"),
      http: { enabled: true, port: httpPort, token: TOKEN }, inference: { pinThreads: false } });
  const daemon = startDaemon(pipelineFile, configFile, {}, maxFileKb);
  await daemon.waitForLog(/station running/);
  const sub = await recorder(`mqtt://127.0.0.1:${brokerPort}`, [`inspector/${name}/verdict`, `inspector/${name}/status`]);
  const base = `http://127.0.0.1:${httpPort}`;
  const get = (p: string, headers: Record<string, string> = { Authorization: `Bearer ${TOKEN}` }) => fetch(`${base}${p}`, { headers });
  const verdicts = () => sub.messages.filter((m) => m.topic.endsWith("/verdict")).map((m) => m.json());
  const status = () => sub.messages.filter((m) => m.topic.endsWith("/status")).at(-1)?.json();
  return { dir, daemon, sub, get, verdicts, status, pipelineFile };
}

describe("station HTTP", () => {
  it("serves /metrics that add up to the verdicts on MQTT, parts by id, and refuses requests without the token", async () => {
    const s = await station("metrics", { source: { type: "synthetic", size: 256, defectRate: 0.5, seed: 3 }, trigger: { type: "mqtt", queue: 10 } });
    try {
      // No page open: the station spends nothing on the page's frames.
      s.sub.client.publish("inspector/metrics/trigger", "m-0", { qos: 1 });
      await waitFor(() => s.verdicts().length >= 1, 60_000, "a verdict");
      expect((await s.get("/api/parts/m-0/frame.jpg")).status).toBe(404);
      // A page open (its event stream): each part's frame is kept for it.
      const events = await s.get("/api/events");
      expect(events.headers.get("content-type")).toBe("text/event-stream");
      const reader = events.body!.getReader();
      const hello = new TextDecoder().decode((await reader.read()).value);
      expect(hello).toContain("event: hello");
      for (let i = 1; i <= 6; i++) s.sub.client.publish("inspector/metrics/trigger", `m-${i}`, { qos: 1 });
      await waitFor(() => s.verdicts().length >= 7, 60_000, "six more verdicts");
      const metrics = parseMetrics(await (await s.get("/metrics")).text());
      const byVerdict = (v: string) => s.verdicts().filter((m) => m.verdict === v).length;
      for (const verdict of ["OK", "NG", "UNCERTAIN"]) {
        expect(metrics.get(`inspector_verdicts_total{verdict="${verdict}",code=""}`) ?? 0, verdict).toBe(byVerdict(verdict));
      }
      expect(metrics.get('inspector_stage_seconds_count{stage="infer"}')).toBe(7);
      expect(metrics.get("inspector_score_count")).toBe(7);
      expect(metrics.get("inspector_broker_connected")).toBe(1);
      expect(metrics.get("inspector_source_up")).toBe(1);
      expect([...metrics.keys()].find((k) => k.startsWith("inspector_info{"))).toContain('station="metrics"');

      const last = s.verdicts().at(-1)!;
      const part = await (await s.get(`/api/parts/${last.partId}`)).json() as Record<string, unknown>;
      expect(part.verdict).toBe(last.verdict);
      expect(part.score).toBe(last.score);
      const heatmap = await s.get(`/api/parts/${last.partId}/heatmap.jpg`);
      expect(heatmap.headers.get("content-type")).toBe("image/jpeg");
      expect((await heatmap.arrayBuffer()).byteLength).toBeGreaterThan(100);
      expect((await s.get(`/api/parts/${last.partId}/frame.jpg`)).headers.get("content-type")).toBe("image/jpeg");
      await reader.cancel();
      expect((await s.get("/api/parts/never-seen")).status).toBe(404);

      expect((await s.get("/metrics", {})).status).toBe(401);
      expect((await s.get("/metrics", { Authorization: "Bearer wrong-token-wrong-token" })).status).toBe(401);
      expect((await s.get(`/api/stats?token=${TOKEN}`, {})).status).toBe(200);
      expect((await s.get("/healthz", {})).status).toBe(200);
      const ready = await s.get("/readyz");
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ ready: true, state: "online" });
    } finally {
      s.daemon.child.kill("SIGTERM");
      await s.daemon.exited;
      await s.sub.client.endAsync();
    }
  }, 120_000);

  it("keeps the images of NG parts (and sampled OK ones) that inspector calibrate takes as they are", async () => {
    const s = await station("archive", {
      source: { type: "synthetic", size: 256, defectRate: 0.4, seed: 5 }, trigger: { type: "continuous", minIntervalMs: 50 },
      archive: { enabled: true, dir: "archive", okEvery: 1 },
    });
    try {
      await waitFor(() => s.verdicts().filter((v) => v.verdict === "OK").length >= 11 && s.verdicts().filter((v) => v.verdict === "NG").length >= 3,
        120_000, "11 OK and 3 NG verdicts");
    } finally {
      s.daemon.child.kill("SIGTERM");
      await s.daemon.exited;
      await s.sub.client.endAsync();
    }
    const archive = path.join(s.dir, "archive");
    const pngs = (folder: string) => readdirSync(path.join(archive, folder)).filter((f) => f.endsWith(".png"));
    expect(pngs("ok").length).toBeGreaterThanOrEqual(11);
    expect(pngs("ng").length).toBeGreaterThanOrEqual(3);
    const sidecar = JSON.parse(readFileSync(path.join(archive, "ng", pngs("ng")[0].replace(/\.png$/, ".json")), "utf8"));
    expect(sidecar.verdict).toBe("NG");
    expect(s.verdicts().map((v) => v.partId)).toContain(sidecar.partId);
    expect(existsSync(path.join(archive, "ng", sidecar.files.heatmap))).toBe(true);

    const bundle = path.join(s.dir, "bundle");
    cpSync(DEMO_BUNDLE, bundle, { recursive: true });
    rmSync(path.join(bundle, "calibration.json"));
    const calibrate = spawnSync(process.execPath, [CLI, "calibrate", "--bundle", bundle, "--good", path.join(archive, "ok"),
      "--bad", path.join(archive, "ng"), "--holdout", "0.5"], { encoding: "utf8" });
    expect(calibrate.status, calibrate.stderr).toBe(0);
    const calibration = JSON.parse(readFileSync(path.join(bundle, "calibration.json"), "utf8"));
    expect(calibration.source.good_images).toBe(pngs("ok").length);
    expect(calibration.source.bad_images).toBe(pngs("ng").length);
  }, 180_000);

  it("goes degraded when the archive cannot be written, and judges on", async () => {
    const s = await station("noarchive", {
      source: { type: "synthetic", size: 256, defectRate: 1, seed: 2 }, trigger: { type: "continuous", minIntervalMs: 100 },
      archive: { enabled: true, dir: "blocked/archive" },
    }, (dir) => writeFileSync(path.join(dir, "blocked"), "a file where the archive's parent folder should be"));
    try {
      await waitFor(() => s.status()?.state === "degraded", 30_000, "status degraded");
      expect(s.status()!.reason).toMatch(/cannot write the image archive/);
      const before = s.verdicts().length;
      await waitFor(() => s.verdicts().length >= before + 3, 30_000, "verdicts after the archive failed");
      const ready = await (await s.get("/readyz")).json() as Record<string, unknown>;
      expect(ready).toMatchObject({ state: "degraded", ready: true });
    } finally {
      s.daemon.child.kill("SIGTERM");
      await s.daemon.exited;
      await s.sub.client.endAsync();
    }
  }, 120_000);

  it("goes degraded on a full disk (a 64 KB file size limit: each frame's PNG is larger), and judges on", async () => {
    const s = await station("fulldisk", {
      source: { type: "synthetic", size: 256, defectRate: 1, seed: 6 }, trigger: { type: "continuous", minIntervalMs: 100 },
      archive: { enabled: true, dir: "archive" },
    }, () => {}, 64);
    try {
      await waitFor(() => s.status()?.state === "degraded", 30_000, "status degraded");
      expect(s.status()!.reason).toMatch(/cannot write the image archive in .*: the disk is full \(EFBIG\)/);
      const before = s.verdicts().length;
      await waitFor(() => s.verdicts().length >= before + 3, 30_000, "verdicts on a full disk");
      expect(s.verdicts().every((v) => v.verdict !== "ERROR")).toBe(true);
    } finally {
      s.daemon.child.kill("SIGTERM");
      await s.daemon.exited;
      await s.sub.client.endAsync();
    }
    expect(readdirSync(path.join(s.dir, "archive", "ng"))).toEqual([]); // nothing half-kept
  }, 120_000);

  it("refuses to serve beyond this machine without a token", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-http-open-"));
    const { pipelineFile, configFile } = writeStation(dir, { station: "open", bundle: DEMO_BUNDLE, source: { type: "synthetic" } },
      { stateDir: path.join(dir, "state"), http: { enabled: true, host: "0.0.0.0", port: await freePort() } });
    const daemon = startDaemon(pipelineFile, configFile);
    expect(await daemon.exited).toBe(2);
    expect(daemon.stderr()).toMatch(/http.host = "0.0.0.0": .* needs an access token/);
  }, 60_000);
});
