// The pieces that decide whether a verdict is lost: the on-disk spool across restarts and torn
// writes, the trigger payload rules, and the bounded queue that answers BUSY instead of growing.
import { spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { firstValueFrom, from, toArray } from "rxjs";
import { describe, expect, it } from "vitest";

import { boundedOrderedMap } from "../../src/pipeline/bounded-queue.js";
import { VerdictSpool } from "../../src/sinks/verdict-spool.js";
import { parseTriggerPayload } from "../../src/triggers/trigger-payload.js";
import { REPO } from "../helpers/python.js";

const message = (n: number) => ({ topic: "t/verdict", payload: Buffer.from(JSON.stringify({ seq: n })) });

describe("verdict spool", () => {
  it("keeps unacknowledged verdicts across a restart, in order, and empties itself when all are delivered", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-spool-"));
    const spool = new VerdictSpool(dir, "s");
    for (let n = 1; n <= 4; n++) spool.append(message(n));
    spool.acknowledge();
    spool.close();
    const again = new VerdictSpool(dir, "s");
    expect(again.recovered).toEqual({ pending: 3, tornBytes: 0, unreadable: 0 });
    const seqs = [];
    while (again.peek()) {
      seqs.push(JSON.parse(again.peek()!.payload).seq);
      again.acknowledge();
    }
    expect(seqs).toEqual([2, 3, 4]);
    expect(statSync(path.join(dir, "s.spool.jsonl")).size).toBe(0);
    again.close();
  });

  it("keeps the verdicts a disk refuses in memory, in their place, and records only what it wrote (ulimit -f: EFBIG)", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-spool-"));
    // In a process of its own, whose files may not grow past 2 KB: about a dozen of these lines.
    const script = `
      import { VerdictSpool } from ${JSON.stringify(path.join(REPO, "dist", "sinks", "verdict-spool.js"))};
      const dir = process.argv[1];
      const message = (n) => ({ topic: "t/verdict", payload: Buffer.from(JSON.stringify({ seq: n, pad: "x".repeat(100) })) });
      const seqOf = (spool) => JSON.parse(spool.peek().payload).seq;
      const deliver = (spool, count) => Array.from({ length: count }, () => { const n = seqOf(spool); spool.acknowledge(); return n; });
      const report = {};
      // 1. Twenty verdicts, three delivered, then a restart: only what reached the disk comes back.
      let spool = new VerdictSpool(dir + "/a", "s");
      for (let n = 1; n <= 20; n++) spool.append(message(n));
      report.inMemory = spool.inMemoryOnly;
      report.firstThree = deliver(spool, 3);
      spool.close();
      spool = new VerdictSpool(dir + "/a", "s");
      report.recovered = deliver(spool, spool.length);
      spool.close();
      // 2. Twenty verdicts, all delivered in order; the file emptied, the disk takes lines again.
      const events = [];
      spool = new VerdictSpool(dir + "/b", "s", { onDiskProblem: (problem) => events.push(problem) });
      for (let n = 1; n <= 20; n++) spool.append(message(n));
      report.delivered = deliver(spool, 20);
      spool.append(message(21));
      report.events = events;
      report.inMemoryAfter = spool.inMemoryOnly;
      spool.close();
      spool = new VerdictSpool(dir + "/b", "s");
      report.afterRestart = deliver(spool, spool.length);
      console.log(JSON.stringify(report));
    `;
    const run = spawnSync("bash", ["-c", `ulimit -f 2 && exec "$0" --input-type=module -e "$1" "$2"`, process.execPath, script, dir],
      { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    const written = 20 - (report.inMemory as number);
    expect(written).toBeGreaterThan(3);
    expect(written).toBeLessThan(20);
    expect(report.firstThree).toEqual([1, 2, 3]);
    // Refused ones were kept in memory only: lost in a restart, and never half written.
    expect(report.recovered).toEqual(Array.from({ length: written - 3 }, (_, i) => i + 4));
    expect(report.delivered).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // The line at the limit is written in part (a short write, as on a full disk): "the disk is full".
    expect(report.events).toEqual([expect.stringMatching(/cannot write the verdict spool .*s\.spool\.jsonl: (the disk is full|EFBIG)/), null]);
    expect(report.inMemoryAfter).toBe(0);
    expect(report.afterRestart).toEqual([21]);
  });

  it("keeps at most maxInMemory refused verdicts: newer ones are counted as lost and said once, not kept until memory runs out", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-spool-"));
    // A process whose files may not grow at all: every line is refused (EFBIG), as on a full disk.
    const script = `
      import { VerdictSpool } from ${JSON.stringify(path.join(REPO, "dist", "sinks", "verdict-spool.js"))};
      const message = (n) => ({ topic: "t/verdict", payload: Buffer.from(JSON.stringify({ seq: n })) });
      const seqOf = (spool) => JSON.parse(spool.peek().payload).seq;
      const deliver = (spool, count) => Array.from({ length: count }, () => { const n = seqOf(spool); spool.acknowledge(); return n; });
      const events = [];
      const spool = new VerdictSpool(process.argv[1], "s", { onDiskProblem: (problem) => events.push(problem), maxInMemory: 5 });
      for (let n = 1; n <= 8; n++) spool.append(message(n));
      const report = { kept: spool.length, inMemory: spool.inMemoryOnly, lost: spool.lost, first: deliver(spool, 2) };
      for (let n = 9; n <= 11; n++) spool.append(message(n));
      Object.assign(report, { rest: deliver(spool, spool.length), lostAfter: spool.lost, inMemoryAfter: spool.inMemoryOnly, events });
      console.log(JSON.stringify(report));
    `;
    const run = spawnSync("bash", ["-c", `ulimit -f 0 && exec "$0" --input-type=module -e "$1" "$2"`, process.execPath, script, dir],
      { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    // Five kept, in order; 6–8 lost; two delivered make room for two of 9–11, and 11 is lost too.
    expect(report).toMatchObject({ kept: 5, inMemory: 5, lost: 3, first: [1, 2], rest: [3, 4, 5, 9, 10], lostAfter: 4, inMemoryAfter: 0 });
    expect(report.events).toEqual([
      expect.stringMatching(/cannot write the verdict spool/),
      expect.stringMatching(/5 verdicts kept in memory, newer ones are lost/),
      expect.stringMatching(/^cannot write the verdict spool [^;]*$/), // room again: only the disk's problem
      expect.stringMatching(/newer ones are lost/),
    ]);
  });

  it("cuts off a torn last line and keeps the complete ones", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-spool-"));
    const spool = new VerdictSpool(dir, "s");
    spool.append(message(1));
    spool.append(message(2));
    spool.close();
    appendFileSync(path.join(dir, "s.spool.jsonl"), '{"topic":"t/verdict","payl');
    const again = new VerdictSpool(dir, "s");
    expect(again.recovered).toEqual({ pending: 2, tornBytes: 26, unreadable: 0 });
    again.append(message(3));
    expect(readFileSync(path.join(dir, "s.spool.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(JSON.parse(l).payload).seq)).toEqual([1, 2, 3]);
    again.close();
  });

  it("reads an offset beyond the file (emptied before the offset was rewritten) as nothing pending", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-spool-"));
    writeFileSync(path.join(dir, "s.spool.offset"), "500");
    writeFileSync(path.join(dir, "s.spool.jsonl"), "");
    const spool = new VerdictSpool(dir, "s");
    expect(spool.recovered.pending).toBe(0);
    spool.append(message(1));
    spool.close();
    expect(new VerdictSpool(dir, "s").recovered.pending).toBe(1);
  });

  it("keeps the offset in one fixed-width record, and sends everything again when the record is unreadable", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-spool-"));
    const spool = new VerdictSpool(dir, "s");
    for (const seq of [1, 2, 3]) spool.append(message(seq));
    spool.acknowledge();
    spool.close();
    const offsetFile = path.join(dir, "s.spool.offset");
    expect(readFileSync(offsetFile, "utf8")).toMatch(/^\d{16}\n$/);
    expect(new VerdictSpool(dir, "s").recovered.pending).toBe(2);
    // A power cut mid-write: at least once (a duplicate, recognisable by part id), never lost.
    writeFileSync(offsetFile, "00000\u0000\u0000garbage");
    const again = new VerdictSpool(dir, "s");
    expect(again.recovered.pending).toBe(3);
    expect(JSON.parse(again.peek()!.payload).seq).toBe(1);
    again.close();
  });

  it("keeps a payload's bytes: JSON as readable text (as earlier versions wrote it), anything else in base64", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-spool-"));
    // A line as the spool of an earlier version wrote it, pending when the daemon was upgraded.
    writeFileSync(path.join(dir, "s.spool.jsonl"), `${JSON.stringify({ topic: "t/verdict", payload: JSON.stringify({ seq: 1 }) })}\n`);
    const spool = new VerdictSpool(dir, "s");
    const binary = Buffer.from([0x08, 0x96, 0x01, 0xff, 0x00, 0x0a, 0xc3]);
    spool.append({ topic: "t/binary", payload: binary });
    spool.append(message(2));
    spool.close();
    const lines = readFileSync(path.join(dir, "s.spool.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => Object.keys(l))).toEqual([["topic", "payload"], ["topic", "payloadBase64"], ["topic", "payload"]]);
    const again = new VerdictSpool(dir, "s");
    expect(again.recovered).toEqual({ pending: 3, tornBytes: 0, unreadable: 0 });
    expect(JSON.parse(again.peek(0)!.payload.toString()).seq).toBe(1);
    expect(again.peek(1)!.payload.equals(binary)).toBe(true);
    expect(JSON.parse(again.peek(2)!.payload.toString()).seq).toBe(2);
    again.close();
  });
});

describe("trigger payloads", () => {
  it.each([
    ["A-1", { ok: true, partId: "A-1" }],
    ["  A-1\n", { ok: true, partId: "A-1" }],
    ['{"partId":"B7","recipe":"flange-2"}', { ok: true, partId: "B7", recipe: "flange-2" }],
    ['{"partId":42,"extra":1}', { ok: true, partId: "42" }],
  ])("accepts %j", (payload, expected) => {
    expect(parseTriggerPayload(Buffer.from(payload))).toEqual(expected);
  });

  it.each([
    ["", "the part id is empty"],
    ["x".repeat(129), "longer than 128"],
    ["A\u0001B", "control characters"],
    ['{"partId":', "not valid JSON"],
    ['{"partId":1.5}', '"partId": a string or an integer'],
    ['{"partId":"A","recipe":"../etc"}', '"recipe" must be'],
    ["y".repeat(5000), "at most 4096"],
  ])("refuses %j", (payload, reason) => {
    const parsed = parseTriggerPayload(Buffer.from(payload));
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? "" : parsed.reason).toContain(reason);
  });

  it("refuses invalid UTF-8", () => {
    expect(parseTriggerPayload(Buffer.from([0x41, 0xc3, 0x28]))).toEqual({ ok: false, reason: "the payload is not valid UTF-8 text" });
  });
});

describe("bounded queue", () => {
  it("starts every admitted item at once, answers in arrival order up to the bound and the rest at once", async () => {
    const startedAt: number[] = [];
    const results = await firstValueFrom(from([1, 2, 3, 4, 5]).pipe(
      // The first admitted finishes last: its result still comes out first.
      boundedOrderedMap(2, (n) => {
        startedAt.push(n);
        return new Promise<string>((resolve) => setTimeout(() => resolve(`done ${n}`), 30 - 10 * n));
      }, (n) => `busy ${n}`),
      toArray(),
    ));
    // 1 in flight, 2 and 3 waiting (already started), 4 and 5 refused immediately.
    expect(results).toEqual(["busy 4", "busy 5", "done 1", "done 2", "done 3"]);
    expect(startedAt).toEqual([1, 2, 3]);
  });
});
