// @y/websocket-server 0.1.1 as shipped (its own bin, src/server.js), with LevelDB persistence
// (YPERSISTENCE) so a document whose last client left is opened cold from disk. Each update is
// written to LevelDB asynchronously after it is broadcast; nothing is acknowledged to clients.
// Usage: node y-websocket-server.mjs <port> <dir>
const port = process.argv[2];
const dir = process.argv[3];
if (!port || !dir) {
  console.error('usage: node y-websocket-server.mjs <port> <data-dir>');
  process.exit(2);
}
process.env.HOST = '127.0.0.1';
process.env.PORT = port;
process.env.YPERSISTENCE = dir;
const { createRequire } = await import('node:module');
const require = createRequire(import.meta.url);
const serverFile = require.resolve('@y/websocket-server/package.json').replace(/package\.json$/, 'src/server.js');
await import(serverFile);
