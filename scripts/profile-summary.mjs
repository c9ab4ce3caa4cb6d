// Summarises a V8 CPU profile (`node --cpu-prof`): self time by file and by function, and the
// inclusive time of the functions whose "name file:line" matches each pattern, in µs per event.
//
//   node --cpu-prof --cpu-prof-dir=prof dist/bin/tributary.js run examples/cart-abandonment/pipeline.yaml --input ev.ndjson --out-dir out
//   node scripts/profile-summary.mjs prof/*.cpuprofile --events 200000 [--top 30] ["^advance logic.js:264$" …]
//
// A pattern is a regular expression over "function file:line" (file without its directory), e.g.
// "^write file-sink.js" or "^flush caching.js". Samples are counted once per pattern per stack.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const [value] = args.splice(i, 2).slice(1);
  return value;
};
const events = Number(option('--events', '0'));
const top = Number(option('--top', '25'));
const [file, ...patterns] = args;
if (!file) throw new Error('usage: node scripts/profile-summary.mjs <file.cpuprofile> [--events n] [--top n] [pattern …]');

const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (id) => {
  const f = nodes.get(id).callFrame;
  return `${f.functionName || '(anonymous)'} ${(f.url || '(native)').replace(/.*\//, '')}:${f.lineNumber + 1}`;
};
const fileOf = (id) => (nodes.get(id).callFrame.url || '(native)').replace(/.*\/(dist|node_modules)\//, '$1/');

const selfTime = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  selfTime.set(id, (selfTime.get(id) ?? 0) + dt);
  total += dt;
});

const show = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%${events ? `  ${(us / events).toFixed(2).padStart(6)} µs/event` : ''}`;
const sum = (key) => {
  const m = new Map();
  for (const [id, t] of selfTime) m.set(key(id), (m.get(key(id)) ?? 0) + t);
  return [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
};
console.log(`profile: ${(total / 1e6).toFixed(2)} s sampled`);
console.log('\nself time by file:');
for (const [k, t] of sum(fileOf)) console.log(`${show(t)}  ${k}`);
console.log('\nself time by function:');
for (const [k, t] of sum(label)) console.log(`${show(t)}  ${k}`);
if (patterns.length > 0) {
  console.log('\ninclusive time:');
  const res = patterns.map((p) => ({ re: new RegExp(p), t: 0 }));
  for (const [id, t] of selfTime) {
    const stack = [];
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) stack.push(label(cur));
    for (const r of res) if (stack.some((l) => r.re.test(l))) r.t += t;
  }
  for (const r of res) console.log(`${show(r.t)}  ${r.re.source}`);
}
