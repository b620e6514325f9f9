// TLS to mosquitto with a CA and a client certificate made here with openssl: the right
// certificate connects, none is refused, and no secret reaches the log or the status topic.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { connectAsync } from "mqtt";
import { beforeAll, describe, expect, it } from "vitest";

import { writeSyntheticDataset } from "../../src/sources/synthetic-dataset.js";
import { freePort, MOSQUITTO, startDaemon, startMosquitto, waitFor, writeStation } from "../helpers/daemon.js";
import { calibratedTinyBundle } from "../helpers/python.js";

const OPENSSL = spawnSync("openssl", ["version"]).status === 0;
const PASSWORD = "s3cret-Pa55word-never-logged";

let work: string;
let bundle: string;
let certs: string;
let parts: string;

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: certs, stdio: "ignore" });
}

beforeAll(() => {
  if (!MOSQUITTO || !OPENSSL) return;
  ({ work, bundle } = calibratedTinyBundle("inspector-tls-"));
  certs = mkdtempSync(path.join(tmpdir(), "inspector-certs-"));
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=inspector test CA", "-keyout", "ca.key", "-out", "ca.crt");
  writeFileSync(path.join(certs, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const [name, cn] of [["server", "localhost"], ["client", "station"], ["rogue", "rogue"]]) {
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${cn}`, "-keyout", `${name}.key`, "-out", `${name}.csr`);
  }
  openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.crt");
  openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-out", "client.crt");
  // Self-signed: a certificate the broker's CA never issued.
  openssl("x509", "-req", "-in", "rogue.csr", "-signkey", "rogue.key", "-days", "2", "-out", "rogue.crt");
  // mosquitto started as root drops to its own user, which must be able to read them.
  chmodSync(certs, 0o755);
  for (const file of readdirSync(certs)) chmodSync(path.join(certs, file), 0o644);
  writeSyntheticDataset({ out: path.join(work, "line"), count: 3, testPerKind: 0, size: 64, defects: [], seed: 3 });
  parts = path.join(work, "line", "train", "good");
});

describe.skipIf(!MOSQUITTO || !OPENSSL)("TLS with client certificates", () => {
  it("connects with the CA and client certificate, refuses without or with a foreign one, and never logs secrets", async () => {
    const port = await freePort();
    const c = (f: string) => path.join(certs, f);
    const broker = await startMosquitto(port, [`cafile ${c("ca.crt")}`, `certfile ${c("server.crt")}`, `keyfile ${c("server.key")}`,
      "require_certificate true"]);
    const url = `mqtts://127.0.0.1:${port}`;
    const sub = await connectAsync(url, { ca: readFileSync(c("ca.crt")), cert: readFileSync(c("client.crt")), key: readFileSync(c("client.key")), protocolVersion: 4 });
    const received: string[] = [];
    sub.on("message", (topic, payload) => received.push(`${topic} ${payload}`));
    await sub.subscribeAsync("inspector/#", { qos: 1 });

    const run = async (name: string, tls: object) => {
      const dir = mkdtempSync(path.join(tmpdir(), `inspector-tls-${name}-`));
      const { pipelineFile, configFile } = writeStation(dir, { station: name, bundle, source: { type: "folder", path: parts } },
        { mqtt: { url, tls, username: "station", password: PASSWORD, reconnectMs: { min: 200, max: 400 } }, stateDir: path.join(dir, "state"),
          logging: { format: "json", level: "debug" } });
      const daemon = startDaemon(pipelineFile, configFile);
      expect(await daemon.exited, daemon.stderr()).toBe(0);
      return { daemon, output: JSON.stringify(daemon.logs) + daemon.stderr() };
    };

    const good = await run("trusted", { ca: c("ca.crt"), cert: c("client.crt"), key: c("client.key") });
    await waitFor(() => received.filter((m) => m.startsWith("inspector/trusted/verdict")).length >= 3, 10_000, "three verdicts over TLS");
    expect(good.daemon.logs.at(-1)).toMatchObject({ delivered: 3, spooled: 0 });

    for (const [name, tls] of [["anonymous", { ca: c("ca.crt") }], ["rogue", { ca: c("ca.crt"), cert: c("rogue.crt"), key: c("rogue.key") }]] as const) {
      const refused = await run(name, tls);
      expect(refused.daemon.logs.at(-1)).toMatchObject({ delivered: 0, spooled: 3 });
      expect(refused.daemon.logs.some((l) => /MQTT connection (failed|lost)/.test(String(l.msg)))).toBe(true);
      expect(received.some((m) => m.startsWith(`inspector/${name}/`))).toBe(false);
      expect(refused.output).not.toContain(PASSWORD);
    }
    const keyText = readFileSync(c("client.key"), "utf8").split("\n")[1];
    expect(good.output).not.toContain(PASSWORD);
    expect(good.output).not.toContain(keyText);
    expect(received.join("\n")).not.toContain(PASSWORD);
    await sub.endAsync();
    await broker.stop();
  });
});
