// Every shell block of the README that needs no broker, run as a reader runs it (bash, a fresh
// directory, `tributary` on PATH): each must succeed, and where the README shows what comes out,
// that is what comes out. The Kafka blocks run in test/integration/readme.kafka.test.ts; the few
// lines that cannot run inside the suite are listed with their reason in test/support/readme.ts.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, tributary } from './support/cli.js';
import { isKafkaBlock, NOT_RUN, readmeBlocks, readmeWorkdir, runBlock, shellBlocks, shownFiles } from './support/readme.js';
import { tempDir } from './support/tmp.js';

const blocks = readmeBlocks();
const local = shellBlocks(blocks).filter((b) => !isKafkaBlock(b));

/** Files the README's blocks use without making them: a pipeline `p.yaml` and two days of events. */
function givenFiles(dir: string): Record<string, string> {
  const gen = tributary(['generate', '--events', '6000', '--seed', '5', '--out', join(dir, 'all.ndjson')]);
  assert.equal(gen.code, 0, gen.stderr);
  const lines = readFileSync(join(dir, 'all.ndjson'), 'utf8').trimEnd().split('\n');
  return {
    ...shownFiles(blocks),
    'p.yaml': readFileSync(join(ROOT, 'examples/cart-abandonment/pipeline.yaml'), 'utf8'),
    'day1.ndjson': `${lines.slice(0, 3000).join('\n')}\n`,
    'day2.ndjson': `${lines.slice(3000).join('\n')}\n`,
  };
}

/** A summary without what changes from run to run (duration, rate, absolute path). */
const stable = (text: string) =>
  text
    .replace(/ in \d+(\.\d+)?s \(\d+ events\/s\)/g, '')
    .replace(/outputs in \S+/g, 'outputs in <dir>')
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean);

test('the README has the shell blocks this test and the Kafka one run', () => {
  assert.ok(local.length >= 3, `local blocks at lines ${local.map((b) => b.line).join(', ')}`);
  assert.ok(shellBlocks(blocks).some(isKafkaBlock));
  assert.ok(Object.keys(shownFiles(blocks)).includes('pipeline.yaml'));
  assert.equal(NOT_RUN.length, 3);
});

for (const block of local) {
  test(`README block at line ${block.line} runs: ${block.lines.find((l) => l.trim())?.trim()}`, { timeout: 240_000 }, () => {
    const dir = readmeWorkdir(tempDir('tributary-readme-'));
    for (const [name, text] of Object.entries(givenFiles(dir))) writeFileSync(join(dir, name), text);
    const r = runBlock(block, dir);
    assert.equal(r.code, 0, `${r.script}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
    const output = `${r.stdout}${r.stderr}`;
    const text = block.lines.join('\n');
    if (/npm start/.test(text)) {
      // The README shows the summary right after the block: the run prints exactly that.
      const shown = blocks[blocks.indexOf(block) + 1];
      assert.ok(shown && shown.lang === '' && shown.lines[0]?.startsWith('done: '), 'the summary block follows the two commands');
      assert.deepEqual(stable(output).filter((l) => !l.startsWith('warning')), stable(shown.lines.join('\n')));
    }
    if (/^ls out\/\s+#/m.test(text)) {
      const shown = (/^ls out\/\s+#\s*(.*)$/m.exec(text)?.[1] ?? '').split(/\s+/).sort();
      assert.deepEqual(readdirSync(join(dir, 'out')).filter((f) => !f.startsWith('.')).sort(), shown); // as ls shows it
    }
    if (/--state-dir state\b/.test(text) && /--final/.test(text)) {
      assert.equal(output.match(/continued from the state a previous run left open/g)?.length, 2, output);
      assert.ok(readdirSync(join(dir, 'out/close')).includes('campaign-triggers.ndjson'));
    }
  });
}
