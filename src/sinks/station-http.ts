// The station's HTTP side (daemon config http:): the station page (web/station-page/, no build
// step), its Server-Sent Events, the parts in memory or in the archive, health checks for a
// supervisor (/healthz alive, /readyz able to judge) and Prometheus metrics (/metrics). Loopback
// only unless told otherwise, and then behind a token; TLS when given a certificate.
import { timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

import type { Logger } from "pino";

import type { DaemonConfig } from "../config/daemon-config.js";
import { UserError } from "../errors/user-error.js";
import { type RecentParts, summaryOf } from "./recent-parts.js";
import type { HealthFacts, StationMetrics } from "./station-metrics.js";

const PAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "web", "station-page");
const UPLOT_DIR = path.dirname(createRequire(import.meta.url).resolve("uplot/dist/uPlot.iife.min.js"));

const STATIC: Record<string, { file: string; type: string }> = {
  "/": { file: path.join(PAGE_DIR, "index.html"), type: "text/html; charset=utf-8" },
  "/app.js": { file: path.join(PAGE_DIR, "app.js"), type: "text/javascript; charset=utf-8" },
  "/style.css": { file: path.join(PAGE_DIR, "style.css"), type: "text/css; charset=utf-8" },
  "/vendor/uPlot.iife.min.js": { file: path.join(UPLOT_DIR, "uPlot.iife.min.js"), type: "text/javascript; charset=utf-8" },
  "/vendor/uPlot.min.css": { file: path.join(UPLOT_DIR, "uPlot.min.css"), type: "text/css; charset=utf-8" },
};

/** Bytes an event stream may hold unsent before a slow page is given the latest part only. */
const MAX_BUFFERED = 256 * 1024;
const HEARTBEAT_MS = 15_000;
const LOOPBACK_HOST = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(:\d+)?$/i;
/** A part's images never change: the page's filmstrip fetches each once. */
const IMMUTABLE = "private, max-age=86400, immutable";

export interface StationHttpNeeds {
  recent: RecentParts;
  metrics: StationMetrics;
  facts: () => HealthFacts & { reason: string | null; ready: boolean; thresholds: unknown };
  /** A part no longer in memory, from the image archive (its sidecar and files), or undefined. */
  archived?: (partId: string, file: "json" | "heatmap" | "frame") => Promise<{ data: Buffer; type: string } | undefined>;
}

interface EventClient {
  res: ServerResponse;
  /** The newest part not sent while the client was behind. */
  waiting?: string;
}

export class StationHttp {
  private server?: Server;
  private readonly clients = new Set<EventClient>();
  private heartbeat?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private readonly token?: Buffer;

  constructor(private readonly config: DaemonConfig["http"], private readonly needs: StationHttpNeeds, private readonly log: Logger) {
    this.token = config.token === undefined ? undefined : Buffer.from(config.token);
  }

  /** Pages connected now: frames are encoded for the page only while someone looks. */
  get viewers(): number {
    return this.clients.size;
  }

  /** The address the page is served on (after start). */
  url = "";

  async start(): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res).catch((err: Error) => {
      // The path only: a query may hold the token.
      this.log.warn({ err: err.message, path: (req.url ?? "").split("?")[0] }, "station page request failed");
      if (!res.headersSent) this.send(res, 500, "text/plain", "internal error");
      else res.destroy();
    });
    let server: Server;
    try {
      server = this.config.tls
        ? createHttpsServer({ cert: readFileSync(this.config.tls.cert), key: readFileSync(this.config.tls.key) }, handler)
        : createHttpServer(handler);
    } catch (err) {
      throw new UserError(`http.tls: cannot read the certificate or key (${(err as Error).message}).`);
    }
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) => reject(new UserError(
        `http: cannot listen on ${this.config.host}:${this.config.port} (${err.code ?? err.message}). Choose another http.port, or stop what uses it.`)));
      server.listen(this.config.port, this.config.host, resolve);
    });
    server.on("error", (err: Error) => this.log.warn({ err: err.message }, "station page server error"));
    const { port } = server.address() as { port: number };
    const host = this.config.host.includes(":") ? `[${this.config.host}]` : this.config.host;
    this.url = `${this.config.tls ? "https" : "http"}://${host}:${port}/`;
    // Nobody watching, nothing encoded: a station's page costs only while it is open.
    this.unsubscribe = this.needs.recent.onPart((part) => { if (this.clients.size > 0) this.broadcast("part", JSON.stringify(summaryOf(part))); });
    this.heartbeat = setInterval(() => this.broadcast("health", JSON.stringify(this.needs.facts())), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private authorised(req: IncomingMessage, url: URL): boolean {
    if (!this.token) return true;
    const header = req.headers.authorization;
    const given = header?.startsWith("Bearer ") ? header.slice(7) : url.searchParams.get("token");
    if (!given) return false;
    const bytes = Buffer.from(given);
    return bytes.length === this.token.length && timingSafeEqual(bytes, this.token);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://station");
    // Alive needs no secret and tells nothing: a supervisor's probe.
    if (url.pathname === "/healthz") return this.send(res, 200, "application/json", JSON.stringify({ status: "alive" }));
    if (url.pathname === "/favicon.ico") return this.send(res, 204, "image/x-icon", "");
    // Without a token the server trusts loopback: a page elsewhere must not reach it through a
    // name that points here (DNS rebinding), so the Host must say loopback too.
    if (!this.token && !LOOPBACK_HOST.test(req.headers.host ?? "")) {
      return this.send(res, 403, "application/json", JSON.stringify({ error: "reach the station page as 127.0.0.1, localhost or [::1], or set http.token" }));
    }
    if (!this.authorised(req, url)) {
      res.setHeader("WWW-Authenticate", "Bearer");
      return this.send(res, 401, "application/json", JSON.stringify({ error: "a token is required: Authorization: Bearer TOKEN, or ?token=TOKEN" }));
    }
    if (req.method === "POST" && url.pathname === "/api/reset") {
      // A form on another site can post here without a preflight; it cannot set this header.
      if (req.headers["x-requested-by"] !== "station-page") {
        return this.send(res, 403, "application/json", JSON.stringify({ error: "send X-Requested-By: station-page" }));
      }
      this.needs.recent.reset();
      return this.send(res, 200, "application/json", JSON.stringify(this.needs.recent.snapshot().counters));
    }
    if (req.method !== "GET" && req.method !== "HEAD") return this.send(res, 405, "text/plain", "GET only");
    const asset = STATIC[url.pathname];
    if (asset) return this.send(res, 200, asset.type, await readFile(asset.file));
    if (url.pathname === "/readyz") {
      const facts = this.needs.facts();
      return this.send(res, facts.ready ? 200 : 503, "application/json",
        JSON.stringify({ ready: facts.ready, state: facts.state, reason: facts.reason, brokerConnected: facts.brokerConnected, sourceUp: facts.sourceUp }));
    }
    if (url.pathname === "/metrics") {
      return this.send(res, 200, this.needs.metrics.registry.contentType, await this.needs.metrics.registry.metrics());
    }
    if (url.pathname === "/api/stats") {
      return this.send(res, 200, "application/json", JSON.stringify({ ...this.needs.recent.snapshot(), health: this.needs.facts() }));
    }
    if (url.pathname === "/api/events") return this.events(req, res);
    const part = /^\/api\/parts\/([^/]+)(?:\/(heatmap\.(?:jpg|png)|frame\.(?:png|jpg)))?$/.exec(url.pathname);
    if (part) {
      let partId: string;
      try {
        partId = decodeURIComponent(part[1]);
      } catch {
        return this.send(res, 400, "application/json", JSON.stringify({ error: "the part id is not valid percent-encoding" }));
      }
      return this.part(res, partId, part[2]);
    }
    return this.send(res, 404, "application/json", JSON.stringify({ error: `no such page: ${url.pathname}` }));
  }

  private async part(res: ServerResponse, partId: string, file?: string): Promise<void> {
    const inMemory = this.needs.recent.find(partId);
    const kind = file?.startsWith("heatmap") ? "heatmap" : file ? "frame" : "json";
    if (inMemory) {
      if (kind === "json") return this.send(res, 200, "application/json", JSON.stringify(summaryOf(inMemory)));
      const image = kind === "heatmap" ? inMemory.heatmap : inMemory.frameImage;
      if (image) return this.send(res, 200, image.format === "png" ? "image/png" : "image/jpeg", image.data, IMMUTABLE);
    }
    const archived = await this.needs.archived?.(partId, kind);
    if (archived) return this.send(res, 200, archived.type, archived.data, kind === "json" ? "no-store" : IMMUTABLE);
    return this.send(res, 404, "application/json", JSON.stringify({ error: `part ${partId}: not in memory${this.needs.archived ? " or in the archive" : ""}` +
      (kind === "json" ? "" : `, or it has no ${kind}`) }));
  }

  /** Server-Sent Events: the state at once, then every part and a heartbeat; the page reconnects by itself. */
  private events(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive" });
    const client: EventClient = { res };
    this.clients.add(client);
    res.write(`retry: 1000\nevent: hello\ndata: ${JSON.stringify({ ...this.needs.recent.snapshot(), health: this.needs.facts() })}\n\n`);
    res.on("drain", () => {
      if (client.waiting) this.write(client, "part", client.waiting);
    });
    req.on("close", () => this.clients.delete(client));
  }

  private broadcast(event: string, data: string): void {
    for (const client of this.clients) this.write(client, event, data);
  }

  /** A page that reads slower than parts come gets the latest part when it catches up, not a queue. */
  private write(client: EventClient, event: string, data: string): void {
    if (client.res.writableLength > MAX_BUFFERED) {
      if (event === "part") client.waiting = data;
      return;
    }
    client.waiting = undefined;
    client.res.write(`event: ${event}\ndata: ${data}\n\n`);
  }

  private send(res: ServerResponse, status: number, type: string, body: string | Buffer, cache = "no-store"): void {
    res.writeHead(status, { "Content-Type": type, "Cache-Control": cache, "X-Content-Type-Options": "nosniff" });
    res.end(body);
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    clearInterval(this.heartbeat);
    for (const client of this.clients) client.res.end();
    this.clients.clear();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
