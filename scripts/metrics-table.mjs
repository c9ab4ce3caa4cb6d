// Rewrites the metrics table in README.md (between the metrics-table markers) from the metric
// definitions (run after a build: npm run docs:metrics).
import { readFileSync, writeFileSync } from 'node:fs';
import { metricsTable } from '../dist/lib/metrics/catalogue.js';

const path = new URL('../README.md', import.meta.url);
const readme = readFileSync(path, 'utf8');
const start = '<!-- metrics-table:start -->';
const end = '<!-- metrics-table:end -->';
const i = readme.indexOf(start);
const j = readme.indexOf(end);
if (i < 0 || j < i) throw new Error(`README.md has no ${start} … ${end} section`);
writeFileSync(path, `${readme.slice(0, i + start.length)}\n${metricsTable()}\n${readme.slice(j)}`);
console.log('README.md: metrics table rewritten');
