#!/usr/bin/env -S node --max-semi-space-size=8
// The one `inspector` program; the TypeScript sources compile to dist/ (npm ci runs `prepare`).
// Run it as `bin/inspector.js` (or `npx inspector`), not `node bin/inspector.js`: the flag above
// halves V8's young generation (16 → 8 MB per semi-space), so that the old generation's headroom
// stays above it and V8 does not start a full collection every two seconds at full speed
// (docs/PERFORMANCE.md). It can only be given on the command line, not set from inside.
import { main } from "../dist/cli/main.js";

process.exitCode = await main(process.argv);
