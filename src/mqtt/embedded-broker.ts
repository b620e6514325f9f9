// With no broker configured, the daemon brings its own (aedes, MQTT 3.1.1, in-process, loopback
// only by default) so that one machine works out of the box; a line's real broker replaces it by
// setting mqtt.url.
import { createServer, type Server, type Socket } from "node:net";

import { Aedes } from "aedes";

import { ConfigError } from "../config/config-file.js";

export interface EmbeddedBroker {
  url: string;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(host: string, port: number): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      // The broker's own timers would keep a daemon that cannot start alive, silent and deaf to SIGTERM.
      broker.close();
      reject(err.code === "EADDRINUSE"
        ? new ConfigError(`mqtt.embedded: port ${port} on ${host} is already in use (another broker?). Set mqtt.url to use that ` +
          `broker, or mqtt.embedded.port to another port.`)
        : new ConfigError(`mqtt.embedded: cannot listen on ${host}:${port} (${err.code}).`));
    });
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const actualPort = typeof address === "object" && address ? address.port : port;
  return {
    url: `mqtt://${host.includes(":") ? `[${host}]` : host}:${actualPort}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => broker.close(() => resolve()));
      // Any open connection keeps server.close() waiting, also one that has not said CONNECT yet
      // (a client started just before a failed start-up: a 45 s wait) and is no aedes client.
      for (const socket of sockets) socket.destroy();
    }),
  };
}
