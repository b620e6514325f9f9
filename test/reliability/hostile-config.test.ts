// Configurations written to do harm, not by mistake: paths that leave the allowed folders (by
// "..", by a symlink, inside a GStreamer pipeline), a YAML alias bomb, prototype keys, a huge
// file, a device instead of a file. Each is refused before anything runs, with what and why.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";
import { stringify } from "yaml";

import { checkPipelinePaths } from "../../src/config/allowed-paths.js";
import { loadDaemonConfig } from "../../src/config/daemon-config.js";
import { loadPipeline } from "../../src/config/pipeline-config.js";
import { freePort, startDaemon, writeStation } from "../helpers/daemon.js";

const root = mkdtempSync(path.join(tmpdir(), "inspector-hostile-"));
const allowed = path.join(root, "allowed");
const outside = path.join(root, "outside");
mkdirSync(path.join(allowed, "models", "good"), { recursive: true });
mkdirSync(path.join(allowed, "pipelines"), { recursive: true });
mkdirSync(path.join(outside, "secret"), { recursive: true });
symlinkSync(path.join(outside, "secret"), path.join(allowed, "models", "link-out"));

function pipelineFile(name: string, content: object | string): string {
  const file = path.join(allowed, "pipelines", `${name}.yaml`);
  writeFileSync(file, typeof content === "string" ? content : stringify(content));
  return file;
}

function refusal(file: string, allowedPaths: string[] | null): string {
  try {
    checkPipelinePaths(loadPipeline(file), allowedPaths);
    return "";
  } catch (err) {
    return (err as Error).message;
  }
}

const station = (extra: object) => ({ station: "h", bundle: "../models/good", source: { type: "synthetic" }, ...extra });

describe("allowedPaths", () => {
  it("lets a pipeline name what lies inside the allowed folders", () => {
    const file = pipelineFile("inside", station({ source: { type: "folder", path: "../models/good" } }));
    expect(refusal(file, [allowed])).toBe("");
  });

  it("refuses .., absolute paths and symlinks that lead outside, naming each key", () => {
    const file = pipelineFile("escape", station({
      bundle: "../models/link-out",
      source: { type: "folder", path: "../../outside/secret" },
    }));
    const message = refusal(file, [allowed]);
    expect(message).toContain(`${file}: 2 paths outside allowedPaths`);
    expect(message).toContain(`bundle = "${path.join(allowed, "models", "link-out")}" (${path.join(outside, "secret")}): outside the allowed folders`);
    expect(message).toContain(`source.path = "${path.join(outside, "secret")}": outside the allowed folders`);
    expect(message).toMatch(/add their folder to allowedPaths/);
    expect(refusal(pipelineFile("etc", station({ source: { type: "opencv", file: "/etc/passwd" } })), [allowed]))
      .toContain('source.file = "/etc/passwd": outside');
  });

  it("checks the files a GStreamer pipeline names, and a folder that only looks like an allowed one", () => {
    const gst = pipelineFile("gst", station({
      source: { type: "opencv", gstreamer: "filesrc location=/etc/shadow ! decodebin ! videoconvert ! appsink" },
    }));
    expect(refusal(gst, [allowed])).toContain('source.gstreamer location = "/etc/shadow": outside');
    const sibling = path.join(root, "allowed-not");
    mkdirSync(sibling);
    const lookalike = pipelineFile("lookalike", station({ bundle: sibling }));
    expect(refusal(lookalike, [allowed])).toContain("bundle");
  });

  it("allows anything when unset, and resolves its folders relative to the daemon configuration", () => {
    const file = pipelineFile("any", station({ bundle: "/etc" }));
    expect(refusal(file, null)).toBe("");
    const config = path.join(allowed, "daemon.yaml");
    writeFileSync(config, "allowedPaths: [models]\n");
    expect(loadDaemonConfig(config, {}).allowedPaths).toEqual([path.join(allowed, "models")]);
  });

  it("stops the daemon before it starts, exit 2, with the message", async () => {
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-hostile-station-"));
    const { pipelineFile: pipeline, configFile } = writeStation(dir, station({ bundle: path.join(allowed, "models", "link-out") }),
      { mqtt: { embedded: { port } }, stateDir: path.join(dir, "state"), allowedPaths: [allowed] });
    const daemon = startDaemon(pipeline, configFile);
    expect(await daemon.exited).toBe(2);
    expect(daemon.stderr()).toContain("1 path outside allowedPaths");
  });
});

describe("hostile configuration files", () => {
  const refused = (name: string, content: string | Buffer) => {
    const file = path.join(root, name);
    writeFileSync(file, content);
    try {
      loadPipeline(file);
      return "";
    } catch (err) {
      return (err as Error).message;
    }
  };

  it("refuses a YAML alias bomb without expanding it", () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) lines.push(`${"abcdefghi"[i]}: &${"abcdefghi"[i]} [${Array(9).fill(`*${"abcdefghi"[i - 1]}`).join(",")}]`);
    expect(refused("bomb.yaml", lines.join("\n"))).toMatch(/not valid YAML or JSON: Excessive alias count/);
  });

  it("treats __proto__ and constructor as the unknown keys they are, and pollutes nothing", () => {
    const message = refused("proto.yaml", stringify(station({})) + "__proto__: {polluted: 1}\nconstructor: {prototype: {polluted: 2}}\n");
    expect(message).toContain("__proto__, constructor: unknown keys");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("refuses a file too large to be a configuration, binary noise, and a device", () => {
    expect(refused("huge.yaml", `station: h\nnote: "${"x".repeat(2 * 1024 * 1024)}"\n`)).toMatch(/bytes; a configuration file is at most 1048576 bytes/);
    expect(refused("noise.yaml", Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)))).toMatch(/noise\.yaml: (not valid YAML|\d+ problem)/);
    expect(() => loadPipeline("/dev/zero")).toThrow("/dev/zero: not a regular file");
  });
});
