// Hostile and broken input on the trigger topic: 10,000 payloads of every kind, each answered by
// exactly one verdict (a BAD_TRIGGER refusal, a BUSY, or a real verdict), the daemon still up.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { beforeAll, describe, expect, it } from "vitest";

import { seededRandom } from "../../src/random/seeded-random.js";
import { freePort, recorder, startDaemon, waitFor, writeStation } from "../helpers/daemon.js";
import { calibratedTinyBundle } from "../helpers/python.js";

let bundle: string;

beforeAll(() => {
  ({ bundle } = calibratedTinyBundle("inspector-badinput-"));
});

function payloads(count: number): Buffer[] {
  const random = seededRandom(42);
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
  const text = (n: number) => Array.from({ length: n }, () => String.fromCharCode(Math.floor(random() * 0xd7ff))).join("");
  const makers: (() => Buffer | string)[] = [
    () => Buffer.from(Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256))), // binary
    () => "x".repeat(4000 + Math.floor(random() * 20000)), // huge
    () => "", // empty
    () => `A\u0000${Math.floor(random() * 1e6)}`, // control characters
    () => JSON.stringify({ partId: pick([null, true, 1.5, [], {}, -0.5, 1e300]) }), // wrong types
    () => JSON.stringify({ partId: "P", recipe: pick([5, "../../etc/passwd", "a b", "x".repeat(100)]) }), // bad recipes
    () => `{"partId": "${text(5)}"`, // truncated JSON
    () => JSON.stringify({ partId: text(1 + Math.floor(random() * 40)) }), // unicode ids (valid)
    () => `part-${Math.floor(random() * 1e9)}`, // plain valid ids
    () => Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), // invalid UTF-8
  ];
  return Array.from({ length: count }, () => {
    const made = pick(makers)();
    return typeof made === "string" ? Buffer.from(made) : made;
  });
}

describe("bad trigger payloads", () => {
  it("answers 10,000 random and malformed payloads with one verdict each and stays up", async () => {
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-fuzz-"));
    const { pipelineFile, configFile } = writeStation(dir,
      { station: "fuzz", bundle, source: { type: "synthetic", size: 64 }, trigger: { type: "mqtt", queue: 8 }, heatmap: { enabled: false } },
      { mqtt: { embedded: { port } }, stateDir: path.join(dir, "state"), logging: { format: "json" } });
    const daemon = startDaemon(pipelineFile, configFile);
    await daemon.waitForLog(/station running/);
    const sub = await recorder(`mqtt://127.0.0.1:${port}`, ["inspector/fuzz/verdict", "inspector/fuzz/status"]);
    const sent = payloads(10_000);
    for (const payload of sent) sub.client.publish("inspector/fuzz/trigger", payload, { qos: 1 });
    const verdicts = () => sub.messages.filter((m) => m.topic.endsWith("/verdict"));
    await waitFor(() => verdicts().length >= sent.length, 240_000, "10,000 verdicts");
    await new Promise((resolve) => setTimeout(resolve, 500));
    const all = verdicts().map((m) => m.json());
    expect(all).toHaveLength(sent.length);
    const byCode = new Map<string, number>();
    for (const v of all) byCode.set(String(v.code ?? v.verdict), (byCode.get(String(v.code ?? v.verdict)) ?? 0) + 1);
    console.info(`10,000 bad/valid triggers → ${JSON.stringify(Object.fromEntries(byCode))}`);
    expect(byCode.get("BAD_TRIGGER")).toBeGreaterThan(5000);
    expect([...byCode.keys()].every((k) => ["BAD_TRIGGER", "BUSY", "OK", "NG", "UNCERTAIN", "RECIPE_UNKNOWN"].includes(k))).toBe(true);
    expect(daemon.child.exitCode).toBeNull();
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    await sub.client.endAsync(true);
  });
});
