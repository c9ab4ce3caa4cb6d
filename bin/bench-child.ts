#!/usr/bin/env node
// One case of `tributary bench` in its own process (lib/bench/child.ts); started by the command,
// not meant to be run by hand. Here rather than in lib/ because lib never imports the operators.
import { benchChildMain } from '../lib/bench/child.js';
import { defaultRegistry } from '../operators/index.js';

await benchChildMain(defaultRegistry);
