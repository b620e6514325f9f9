#!/usr/bin/env node
// The one `inspector` program; the TypeScript sources compile to dist/ (npm ci runs `prepare`).
import { main } from "../dist/cli/main.js";

process.exitCode = await main(process.argv);
