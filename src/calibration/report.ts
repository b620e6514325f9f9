// calibration-report.html: what a quality engineer checks before trusting a threshold — the
// scores of held-back good parts and of defective parts, with the thresholds drawn in.
import type { Calibration } from "../inference/calibration-file.js";

const WIDTH = 720;
const HEIGHT = 260;
const PAD = 40;
const BINS = 40;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

export function histogramSvg(series: { label: string; colour: string; values: number[] }[], lines: { label: string; value: number; colour: string }[]): string {
  const all = [...series.flatMap((s) => s.values), ...lines.map((l) => l.value)].filter(Number.isFinite);
  const low = Math.min(...all);
  const high = Math.max(...all);
  const span = high - low || 1;
  const bin = (v: number) => Math.min(BINS - 1, Math.floor(((v - low) / span) * BINS));
  const counts = series.map((s) => {
    const c = new Array<number>(BINS).fill(0);
    for (const v of s.values) c[bin(v)]++;
    return c;
  });
  const top = Math.max(1, ...counts.flat());
  const x = (v: number) => PAD + ((v - low) / span) * (WIDTH - 2 * PAD);
  const barWidth = (WIDTH - 2 * PAD) / BINS;
  const parts: string[] = [];
  series.forEach((s, index) => counts[index].forEach((count, b) => {
    if (count === 0) return;
    const h = (count / top) * (HEIGHT - 2 * PAD);
    parts.push(`<rect x="${(PAD + b * barWidth).toFixed(1)}" y="${(HEIGHT - PAD - h).toFixed(1)}" width="${barWidth.toFixed(1)}" ` +
      `height="${h.toFixed(1)}" fill="${s.colour}" fill-opacity="0.55"><title>${escapeHtml(s.label)}: ${count}</title></rect>`);
  }));
  for (const line of lines) {
    parts.push(`<line x1="${x(line.value).toFixed(1)}" x2="${x(line.value).toFixed(1)}" y1="${PAD - 10}" y2="${HEIGHT - PAD}" ` +
      `stroke="${line.colour}" stroke-width="2" stroke-dasharray="5,3"/>` +
      `<text x="${(x(line.value) + 4).toFixed(1)}" y="${PAD - 12}" font-size="11" fill="${line.colour}">${escapeHtml(line.label)} ${line.value.toFixed(3)}</text>`);
  }
  const axis = `<line x1="${PAD}" x2="${WIDTH - PAD}" y1="${HEIGHT - PAD}" y2="${HEIGHT - PAD}" stroke="#333"/>` +
    `<text x="${PAD}" y="${HEIGHT - PAD + 16}" font-size="11">${low.toFixed(3)}</text>` +
    `<text x="${WIDTH - PAD}" y="${HEIGHT - PAD + 16}" font-size="11" text-anchor="end">${high.toFixed(3)}</text>` +
    `<text x="${WIDTH / 2}" y="${HEIGHT - 6}" font-size="12" text-anchor="middle">image score (maximum of the anomaly map)</text>`;
  const legend = series.map((s, i) => `<rect x="${WIDTH - PAD - 170}" y="${8 + i * 16}" width="10" height="10" fill="${s.colour}"/>` +
    `<text x="${WIDTH - PAD - 155}" y="${17 + i * 16}" font-size="11">${escapeHtml(s.label)} (${s.values.length})</text>`).join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" role="img">${axis}${parts.join("")}${legend}</svg>`;
}

export function calibrationReport(calibration: Calibration, goodScores: number[], badScores: number[], warnings: string[]): string {
  const t = calibration.thresholds;
  const lines = [{ label: "NG ≥", value: t.image_upper, colour: "#c00" }];
  if (t.image_lower !== t.image_upper) lines.push({ label: "OK <", value: t.image_lower, colour: "#070" });
  const series = [{ label: "good, held back", colour: "#2a7", values: goodScores }];
  if (badScores.length) series.push({ label: "defective", colour: "#d33", values: badScores });
  const measured = calibration.measured as Record<string, unknown>;
  const rows: [string, string][] = [
    ["bundle", calibration.bundle_sha256.slice(0, 12)],
    ["good images", `${calibration.source.good_images} (${calibration.source.statistics_images} for statistics, ${calibration.source.threshold_images} held back)`],
    ["defective images", String(calibration.source.bad_images ?? 0)],
    ["threshold method", t.method],
    ["target false-reject rate", `${(t.target_false_reject_rate * 100).toFixed(2)} %`],
    ["NG threshold", t.image_upper.toFixed(4)],
    ["OK threshold", t.image_lower.toFixed(4)],
    ["pixel threshold (regions)", t.pixel.toFixed(4)],
    ["false-reject rate on held-back good parts", measured.held_back_false_reject_rate == null ? "–" : `${((measured.held_back_false_reject_rate as number) * 100).toFixed(2)} %`],
    ["defect pixels outlined by regions", measured.outlined_defect_pixels == null ? "– (no masks given)" : `${((measured.outlined_defect_pixels as number) * 100).toFixed(1)} %`],
    ["miss rate on defective parts", measured.miss_rate == null ? "– (no defective samples given)" : `${((measured.miss_rate as number) * 100).toFixed(2)} %`],
  ];
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Calibration report</title>
<style>body{font-family:sans-serif;max-width:780px;margin:2em auto;color:#222}table{border-collapse:collapse}td{padding:3px 10px;border-bottom:1px solid #ddd}.warn{background:#fff3cd;padding:8px}</style></head>
<body><h1>Calibration report</h1><p>${escapeHtml(calibration.created)} · ${escapeHtml(calibration.source.good)}</p>
${warnings.map((w) => `<p class="warn">${escapeHtml(w)}</p>`).join("")}
<table>${rows.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`).join("")}</table>
<h2>Image scores</h2>${histogramSvg(series, lines)}
<p>Parts scoring at or above the red line are NG. Good parts to its right would be scrapped; defective parts to its left would ship.</p>
</body></html>
`;
}
