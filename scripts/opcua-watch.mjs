#!/usr/bin/env node
// An MES watching the station over OPC UA, for measuring what that costs the station
// (scripts/bench-interface.sh opcua): subscribes to the ResultReadyEvents and the result counter
// until SIGTERM, then says how many it saw.
// Usage: node scripts/opcua-watch.mjs opc.tcp://127.0.0.1:4841 SECONDS
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
require("node-opcua-debug").setWarningLogger(() => undefined);
const { AttributeIds, OPCUAClient, TimestampsToReturn, constructEventFilter } = require("node-opcua");

const [endpoint, seconds = "120"] = process.argv.slice(2);
const until = Date.now() + Number(seconds) * 1000;
const client = OPCUAClient.create({ endpointMustExist: false, connectionStrategy: { maxRetry: 0 } });
let events = 0;
let changes = 0;
process.on("SIGTERM", () => {
  console.error(`opcua-watch: ${events} events, ${changes} counter changes`);
  process.exit(0);
});
// The daemon starts after this script: try until the server answers.
for (;;) {
  try {
    await client.connect(endpoint);
    break;
  } catch {
    if (Date.now() > until) process.exit(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
const session = await client.createSession();
const ns = (await session.readNamespaceArray()).indexOf("urn:inspector:station");
const subscription = await session.createSubscription2({ requestedPublishingInterval: 100, publishingEnabled: true,
  requestedMaxKeepAliveCount: 20, requestedLifetimeCount: 100 });
const watched = await subscription.monitor({ nodeId: `ns=${ns};s=VisionSystem`, attributeId: AttributeIds.EventNotifier },
  { samplingInterval: 0, queueSize: 1000, filter: constructEventFilter(["EventType", "Message"]) }, TimestampsToReturn.Neither);
watched.on("changed", () => { events++; });
const counter = await subscription.monitor({ nodeId: `ns=${ns};s=Inspector.ResultCounter`, attributeId: AttributeIds.Value },
  { samplingInterval: 100, queueSize: 10 }, TimestampsToReturn.Both);
counter.on("changed", () => { changes++; });
await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now())));
console.error(`opcua-watch: ${events} events, ${changes} counter changes`);
await client.disconnect();
