import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { deriveId } from '../../lib/operator/ids.js';
import { ROOT, tributary } from '../support/cli.js';
import { heldBy, lmdbEntries } from '../support/forget.js';
import { tempDir } from '../support/tmp.js';

const readNdjson = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
const USER = '515136153';
const GAP = 30 * 60_000;

/** The user's sessions straight from the CSV (distinct rows, split at gaps over 30m): how many, and whether the last is still open at the end of a non-final run. */
function userFromCsv(): { sessions: number; lastOpen: boolean } {
  const rows = [...new Set(readFileSync(join(ROOT, 'examples/data/rees46-2019-10-01-head.csv'), 'utf8').split('\n').slice(1).filter(Boolean))];
  const time = (r: string) => Date.parse((r.split(',')[0] as string).replace(' UTC', 'Z').replace(' ', 'T'));
  const max = Math.max(...rows.map(time));
  const times = rows.filter((r) => r.split(',')[7] === USER).map(time).sort((a, b) => a - b);
  let sessions = 1;
  for (let i = 1; i < times.length; i++) if (times[i]! - times[i - 1]! > GAP) sessions++;
  // Not final: the watermark stays at the latest time − 1m; a session closes when it passes end + 30m.
  return { sessions, lastOpen: times.at(-1)! + GAP + 1 > max - 60_000 };
}

test('example forget: the run leaves the user\'s session and daily window open; tributary forget removes exactly those, and a final run closes nothing of theirs', async () => {
  const out = tempDir();
  const state = join(out, 'state');
  const csv = userFromCsv();
  assert.equal(csv.lastOpen, true);
  const run = tributary(['run', 'examples/forget/pipeline.yaml', '--input', 'examples/data/rees46-2019-10-01-head.csv', '--out-dir', out, '--state-dir', state, '--quiet']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(readNdjson(join(out, 'sessions.ndjson')).filter((s) => s.key === USER).length, csv.sessions - 1, 'the closed sessions of the user');
  assert.ok(heldBy(await lmdbEntries(state), [USER]).length === 2);

  const forget = tributary(['forget', 'examples/forget/pipeline.yaml', '--state-dir', state, '--identifier', `userId:${USER}`, '--requested-by', 'dpo@example.com', '--request-id', 'req-1', '--out-dir', out]);
  assert.equal(forget.code, 0, forget.stderr);
  assert.equal(forget.stdout, `forgot request req-1 in ${state}: 2 entries removed (dedupe.seen 0, sessionize.sessions 1, daily.windows 1, daily.entries 0); audit record in ${out}/forgotten.ndjson\n`);
  const audit = readNdjson(join(out, 'forgotten.ndjson'));
  assert.deepEqual(audit, [{
    id: deriveId('forgotten', 'req-1', 'embedded'), requestId: 'req-1', requestedBy: 'dpo@example.com', task: 'embedded', at: audit[0]?.at,
    stores: { 'dedupe.seen': 0, 'sessionize.sessions': 1, 'daily.windows': 1, 'daily.entries': 0 }, total: 2,
  }]);
  assert.deepEqual(heldBy(await lmdbEntries(state), [USER]), []);

  // Closing everything afterwards: every other open session and window closes, none of the user's.
  writeFileSync(join(out, 'empty.ndjson'), '');
  const close = tributary(['run', 'examples/forget/pipeline.yaml', '--input', join(out, 'empty.ndjson'), '--out-dir', join(out, 'close'), '--state-dir', state, '--final', '--quiet']);
  assert.equal(close.code, 0, close.stderr);
  const sessions = readNdjson(join(out, 'close/sessions.ndjson'));
  assert.ok(sessions.length > 100);
  assert.deepEqual(sessions.filter((s) => s.key === USER), []);
  assert.deepEqual(readNdjson(join(out, 'close/daily-features.ndjson')).filter((f) => f.key === USER), []);
});
