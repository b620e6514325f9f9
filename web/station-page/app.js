// The station page: the state from the daemon's Server-Sent Events (/api/events), kept bounded
// (the last parts the daemon keeps, the last 500 scores), so a page left open for a shift does not
// grow. EventSource reconnects by itself; each connection starts from the daemon's full state.
"use strict";

const token = new URLSearchParams(location.search).get("token");
/** A URL of the daemon's, with the page's token when it was opened with one. */
const api = (path) => (token ? `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : path);
const $ = (id) => document.getElementById(id);
const MAX_SCORES = 500;

const state = { parts: [], ng: [], scores: [], counters: null, health: null, capacity: 50, selected: null, follow: true };

function fmt(value, digits = 2) {
  return value === null || value === undefined || Number.isNaN(value) ? "—" : Number(value).toFixed(digits);
}

function thresholds() {
  const t = state.health && state.health.thresholds;
  return t ? { lower: t.imageLower, upper: t.imageUpper } : null;
}

function showPart(part) {
  if (!part) return;
  const banner = $("banner");
  banner.textContent = part.verdict + (part.code ? ` ${part.code}` : "");
  banner.className = `banner ${part.verdict}`;
  $("part-id").textContent = part.partId ?? "(none)";
  $("part-time").textContent = new Date(part.decidedAt).toLocaleTimeString();
  $("part-code").textContent = part.message ?? "";
  $("score").textContent = fmt(part.score);
  const t = thresholds();
  if (t) {
    $("t-lower").textContent = fmt(t.lower);
    $("t-upper").textContent = fmt(t.upper);
    const top = Math.max(2 * t.upper, part.score ?? 0) || 1;
    $("band-ok").style.flex = String(t.lower / top);
    $("band-unc").style.flex = String(Math.max(0, t.upper - t.lower) / top);
    $("band-ng").style.flex = String(Math.max(0, top - t.upper) / top);
    $("score-mark").style.left = `${Math.min(100, (100 * (part.score ?? 0)) / top)}%`;
  }
  const id = encodeURIComponent(part.partId ?? "");
  const frame = $("frame");
  const heatmap = $("heatmap");
  if (part.frameImage && part.partId) {
    frame.src = api(`api/parts/${id}/frame.${part.frameImage.format === "png" ? "png" : "jpg"}`);
    frame.style.visibility = "visible";
  } else {
    frame.removeAttribute("src");
    frame.style.visibility = "hidden";
  }
  if (part.heatmap && part.partId) {
    heatmap.src = api(`api/parts/${id}/heatmap.${part.heatmap.format === "png" ? "png" : "jpg"}`);
    heatmap.style.display = "block";
    const r = part.heatmap.rect;
    const w = part.frameImage ? part.frameImage.width : r.width;
    const h = part.frameImage ? part.frameImage.height : r.height;
    Object.assign(heatmap.style, { left: `${(100 * r.x) / w}%`, top: `${(100 * r.y) / h}%`, width: `${(100 * r.width) / w}%` });
  } else {
    heatmap.style.display = "none";
  }
  $("view-note").textContent = part.regions.length ? `${part.regions.length} region(s) boxed` : "";
}

function tile(part) {
  const div = document.createElement("div");
  div.className = `tile ${part.verdict}`;
  div.dataset.partId = part.partId ?? "";
  div.title = `${part.verdict} ${part.partId ?? ""} score ${fmt(part.score)}`;
  if (part.heatmap && part.partId) {
    const img = document.createElement("img");
    img.loading = "lazy";
    img.alt = "";
    img.src = api(`api/parts/${encodeURIComponent(part.partId)}/heatmap.${part.heatmap.format === "png" ? "png" : "jpg"}`);
    div.append(img);
  }
  const label = document.createElement("span");
  label.textContent = `${part.verdict} ${part.partId ?? ""}`;
  div.append(label);
  div.addEventListener("click", () => select(part));
  return div;
}

function select(part) {
  state.selected = part.partId;
  state.follow = false;
  showPart(part);
  renderStrips();
}

/**
 * The strips change by their ends only: new tiles go in front, old ones leave at the back, so a
 * part's tile (and its image) is made once, not again with every part.
 */
function renderStrips(rebuild = false) {
  for (const [id, list] of [["filmstrip", state.parts], ["gallery", state.ng]]) {
    const box = $(id);
    if (rebuild) box.replaceChildren();
    const shown = new Set([...box.children].map((t) => t.dataset.key));
    // A fast line adds more parts between two renderings than anyone can look at: the newest
    // NEW_TILES of them get tiles (and their images are fetched), the others are only counted.
    const fresh = list.filter((p) => !shown.has(`${p.partId}@${p.decidedAt}`)).slice(-NEW_TILES);
    for (const part of fresh) {
      const key = `${part.partId}@${part.decidedAt}`;
      if (shown.has(key)) continue;
      const t = tile(part);
      t.dataset.key = key;
      box.prepend(t);
    }
    while (box.children.length > list.length) box.lastElementChild.remove();
    for (const t of box.children) t.classList.toggle("selected", t.dataset.partId === state.selected);
  }
}

/** At most one rendering a second, whatever the line's rate: the newest part, the counters, the strips, the charts. */
const RENDER_MS = 1000;
const NEW_TILES = 4;
let renderTimer = null;
let lastRender = 0;
function scheduleRender() {
  if (renderTimer) return;
  renderTimer = setTimeout(() => {
    renderTimer = null;
    lastRender = Date.now();
    renderCounters();
    renderStrips();
    if (state.follow) showPart(state.parts[state.parts.length - 1]);
    queueCharts();
  }, Math.max(0, RENDER_MS - (Date.now() - lastRender)));
}

function renderCounters() {
  const c = state.counters;
  if (!c) return;
  for (const key of ["OK", "NG", "UNCERTAIN", "ERROR", "BUSY", "parts"]) $(`c-${key}`).textContent = String(c[key]);
  $("since").textContent = new Date(c.since).toLocaleString();
  const judged = c.OK + c.NG + c.UNCERTAIN;
  $("yield").textContent = judged ? `${((100 * c.OK) / judged).toFixed(1)} %` : "—";
}

function renderHealth() {
  const h = state.health;
  if (!h) return;
  $("station").textContent = h.station;
  const badge = $("state");
  badge.textContent = h.state;
  badge.className = `state ${h.state}`;
  $("reason").textContent = h.reason ?? "";
  const rows = [
    ["ready", h.ready ? "yes" : "no"], ["camera", h.sourceUp ? "up" : "lost"], ["broker", h.brokerConnected ? "connected" : "away"],
    ["spool depth", String(h.spoolDepth)], ["provider", h.provider], ["bundle", h.bundle], ["calibration", h.calibration ?? "—"],
    ["archived parts", h.archiveParts === null ? "off" : String(h.archiveParts)], ["version", h.version],
  ];
  $("health").replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = k;
    const td = document.createElement("td");
    td.textContent = v;
    td.dataset.testid = `health-${k.replace(/ /g, "-")}`;
    tr.append(th, td);
    return tr;
  }));
}

function renderStats(snapshot) {
  $("rate").textContent = fmt(snapshot.partsPerSecond);
  $("latency").replaceChildren(...Object.entries(snapshot.latencyMs).map(([stage, ms]) => {
    const tr = document.createElement("tr");
    tr.innerHTML = "<th></th><td></td>";
    tr.firstChild.textContent = stage;
    tr.lastChild.textContent = fmt(ms, 1);
    return tr;
  }));
}

let trend;
let histogram;
function charts() {
  const width = Math.max(300, $("trend").clientWidth || 600);
  const t = thresholds();
  const xs = state.scores.map((s) => s.t / 1000);
  const ys = state.scores.map((s) => s.score);
  const lower = xs.map(() => (t ? t.lower : null));
  const upper = xs.map(() => (t ? t.upper : null));
  const trendData = [xs, ys, lower, upper];
  if (!trend) {
    trend = new uPlot({ width, height: 180, series: [{}, { label: "score", stroke: "#0969da", points: { size: 3 } },
      { label: "OK below", stroke: "#1a7f37", dash: [4, 4] }, { label: "NG from", stroke: "#cf222e", dash: [4, 4] }] }, trendData, $("trend"));
  } else trend.setData(trendData);
  const top = Math.max(t ? 2 * t.upper : 1, ...ys, 1);
  const bins = 30;
  const counts = new Array(bins).fill(0);
  for (const y of ys) counts[Math.min(bins - 1, Math.floor((y / top) * bins))]++;
  const edges = counts.map((_, i) => ((i + 0.5) * top) / bins);
  const histData = [edges, counts, edges.map(() => null), edges.map(() => null)];
  if (!histogram) {
    histogram = new uPlot({ width, height: 160, scales: { x: { time: false } },
      series: [{ label: "score" }, { label: "parts", fill: "#0969da55", stroke: "#0969da", paths: uPlot.paths.bars({ size: [0.9] }) },
        { label: "OK below", stroke: "#1a7f37" }, { label: "NG from", stroke: "#cf222e" }],
      hooks: { draw: [(u) => {
        const th = thresholds();
        if (!th) return;
        const ctx = u.ctx;
        for (const [value, colour] of [[th.lower, "#1a7f37"], [th.upper, "#cf222e"]]) {
          const x = u.valToPos(value, "x", true);
          ctx.save();
          ctx.strokeStyle = colour;
          ctx.setLineDash([4, 4]);
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.restore();
        }
      }] } }, histData, $("histogram"));
  } else histogram.setData(histData);
}

let chartsQueued = false;
function queueCharts() {
  if (chartsQueued) return;
  chartsQueued = true;
  requestAnimationFrame(() => {
    chartsQueued = false;
    charts();
  });
}

function connect() {
  const events = new EventSource(api("api/events"));
  events.addEventListener("hello", (e) => {
    const s = JSON.parse(e.data);
    state.capacity = Math.max(s.parts.length, state.capacity);
    Object.assign(state, { parts: s.parts, ng: s.ng, scores: s.scores, counters: s.counters, health: s.health });
    $("link").textContent = "live";
    renderHealth();
    renderCounters();
    renderStats(s);
    renderStrips(true);
    if (state.follow) showPart(state.parts[state.parts.length - 1]);
    queueCharts();
  });
  events.addEventListener("part", (e) => {
    const part = JSON.parse(e.data);
    state.parts.push(part);
    if (state.parts.length > state.capacity) state.parts.shift();
    if (part.verdict === "NG") {
      state.ng.push(part);
      if (state.ng.length > state.capacity) state.ng.shift();
    }
    if (part.score !== null) {
      state.scores.push({ t: Date.parse(part.decidedAt), score: part.score });
      if (state.scores.length > MAX_SCORES) state.scores.shift();
    }
    if (state.counters) {
      state.counters.parts++;
      state.counters[part.verdict]++;
      if (part.code === "BUSY") state.counters.BUSY++;
    }
    scheduleRender();
  });
  events.addEventListener("health", (e) => {
    state.health = JSON.parse(e.data);
    renderHealth();
  });
  events.onerror = () => {
    // The browser tries again by itself (retry: 1000); the page says so meanwhile.
    $("link").textContent = "reconnecting…";
  };
}

$("opacity").addEventListener("input", (e) => { $("heatmap").style.opacity = String(e.target.value / 100); });
$("heatmap").style.opacity = "0.7";
$("reset").addEventListener("click", async () => {
  const response = await fetch(api("api/reset"), { method: "POST", headers: { "X-Requested-By": "station-page" } });
  if (response.ok) {
    state.counters = await response.json();
    renderCounters();
  }
});
$("banner").addEventListener("click", () => {
  state.follow = true;
  state.selected = null;
  showPart(state.parts[state.parts.length - 1]);
  renderStrips();
});
setInterval(async () => {
  const response = await fetch(api("api/stats")).catch(() => null);
  if (response && response.ok) renderStats(await response.json());
}, 5000);
connect();
