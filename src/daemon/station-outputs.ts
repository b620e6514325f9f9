// The station's outputs beyond the MQTT verdict topic, from its configuration: the image archive
// (pipeline archive:), the station page with health checks and metrics (daemon http:), the
// Sparkplug edge node and the OPC UA server. Each is a sink of the outcome stream; the HTTP server
// is a part of the daemon with its own lifecycle, the OPC UA server also a source of triggers.
import type { Logger } from "pino";

import type { DaemonConfig } from "../config/daemon-config.js";
import type { StationConfig } from "../config/pipeline-config.js";
import type { ProblemReporter } from "../errors/problem-reporter.js";
import type { FrameChoice } from "../pipeline/inspect-part.js";
import { ArchivePolicy, ImageArchive } from "../sinks/image-archive.js";
import type { OutcomeSink } from "../sinks/outcome-sink.js";
import { RecentParts } from "../sinks/recent-parts.js";
import { OpcuaStationServer } from "../sinks/opcua-station-server.js";
import { SparkplugEdgeNode } from "../sinks/sparkplug-edge-node.js";
import { StationHttp } from "../sinks/station-http.js";
import { type HealthFacts, StationMetrics } from "../sinks/station-metrics.js";
import type { VerdictKind } from "../verdict/verdict.js";
import type { Lifecycle } from "./lifecycle.js";
import { VERSION } from "./version.js";

export type StationFacts = HealthFacts & { reason: string | null; ready: boolean; thresholds: unknown };

export interface StationOutputs {
  sinks: OutcomeSink[];
  /** The HTTP server, when http.enabled. */
  http?: Lifecycle & { url(): string };
  /** Which parts carry their frame, for the archive (PNG) and the page (JPEG). */
  frames: (verdict: VerdictKind) => FrameChoice;
  archive?: ImageArchive;
  /** The OPC UA server, when opcua.enabled: its Trigger calls join the pipeline's triggers. */
  opcua?: OpcuaStationServer;
}

export interface OutputNeeds {
  facts: () => Omit<StationFacts, "archiveParts">;
  reporter: ProblemReporter;
  /** The broker's address once the station's connection has it (the embedded broker's port may be chosen at start). */
  brokerUrl: () => string;
  stopping: () => boolean;
}

export function stationOutputs(config: DaemonConfig, pipeline: StationConfig, { facts, reporter, brokerUrl, stopping }: OutputNeeds,
  log: Logger): StationOutputs {
  const sinks: OutcomeSink[] = [];
  const policy = new ArchivePolicy(pipeline.archive);
  const archive = pipeline.archive.enabled ? new ImageArchive(pipeline.archive, reporter, log) : undefined;
  if (archive) sinks.push(archive);
  const allFacts = (): StationFacts => ({ ...facts(), archiveParts: archive ? archive.stats.parts : null });
  let http: StationOutputs["http"];
  let server: StationHttp | undefined;
  if (config.http.enabled) {
    const recent = new RecentParts(config.http.recentParts);
    const metrics = new StationMetrics(allFacts);
    sinks.push(recent, metrics);
    server = new StationHttp(config.http, { recent, metrics, facts: allFacts, archived: archive && ((id, kind) => archive.lookup(id, kind)) }, log);
    http = {
      name: "station page", url: () => server!.url,
      start: async () => {
        await server!.start();
        log.info({ url: server!.url }, `station page on ${server!.url}`);
      },
      stop: () => server!.stop(),
    };
  }
  if (config.sparkplug.enabled) {
    sinks.push(new SparkplugEdgeNode({
      config: config.sparkplug, mqtt: config.mqtt, station: pipeline.station, url: brokerUrl,
      heatmapUrl: (partId) => (server ? `${server.url}api/parts/${encodeURIComponent(partId)}/heatmap.jpg` : ""),
      model: () => { const f = facts(); return { bundle: f.bundle, calibration: f.calibration }; },
    }, log));
  }
  const opcua = config.opcua.enabled ? new OpcuaStationServer({
    config: config.opcua, station: pipeline.station, stateDir: config.stateDir, version: VERSION,
    triggered: pipeline.trigger.type === "mqtt", stopping, facts,
  }, log) : undefined;
  if (opcua) sinks.push(opcua);
  return {
    sinks, http, archive, opcua,
    frames: (verdict) => {
      const keep = policy.keeps(verdict);
      // The page's JPEG only while a page is open: a station nobody watches spends nothing on it.
      return { keep, encode: keep ? "png" : server && server.viewers > 0 ? "jpeg" : null };
    },
  };
}
