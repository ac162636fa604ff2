#!/usr/bin/env node
// The `portico` command. `npm ci` builds dist/ through the `prepare` script.
import { main } from './cli.js';

await main(process.argv.slice(2));
