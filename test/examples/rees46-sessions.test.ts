import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SessionRecord } from '../../operators/sessionize.js';
import { tributary, ROOT } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const readNdjson = <T = Record<string, unknown>>(file: string) =>
  readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

const GAP = 30 * 60_000;

/**
 * The sessions computed straight from the CSV, independently of Tributary: drop exact duplicate
 * rows, group by user_id, sort each user's times, split where the next event is more than 30m
 * after the previous one. `[user, start, end, events]`, sorted.
 */
function sessionsFromCsv(): Array<[string, number, number, number]> {
  const rows = new Set(readFileSync(join(ROOT, 'examples/data/rees46-2019-10-01-head.csv'), 'utf8').split('\n').slice(1).filter(Boolean));
  const byUser = new Map<string, number[]>();
  for (const row of rows) {
    const cols = row.split(','); // the file has no quoted fields
    const time = Date.parse((cols[0] as string).replace(' UTC', 'Z').replace(' ', 'T'));
    const user = cols[7] as string;
    assert.ok(Number.isFinite(time) && user, row);
    let times = byUser.get(user);
    if (!times) byUser.set(user, (times = []));
    times.push(time);
  }
  const out: Array<[string, number, number, number]> = [];
  for (const [user, times] of byUser) {
    times.sort((a, b) => a - b);
    let current: [string, number, number, number] | undefined;
    for (const t of times) {
      if (current && t - current[2] <= GAP) {
        current[2] = t;
        current[3]++;
      } else out.push((current = [user, t, t, 1]));
    }
  }
  return out.sort(byTuple);
}

function byTuple(a: Array<string | number>, b: Array<string | number>): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as string | number;
    const y = b[i] as string | number;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

test('example rees46-sessions: the CLI run finds the sessions an independent count of the CSV finds', () => {
  const out = tempDir();
  const r = tributary(['run', 'examples/rees46-sessions/pipeline.yaml', '--input', 'examples/data/rees46-2019-10-01-head.csv', '--out-dir', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);

  const expected = sessionsFromCsv();
  const sessions = readNdjson<SessionRecord>(join(out, 'sessions.ndjson'));
  const events = readNdjson(join(out, 'events.ndjson'));
  assert.equal(sessions.length, expected.length);
  assert.deepEqual(sessions.map((s) => [s.key, s.start, s.end, s.eventCount]).sort(byTuple), expected);
  assert.equal(sessions.reduce((n, s) => n + s.eventCount, 0), events.length, 'every distinct event is in exactly one session');
  assert.ok(expected.some((s) => s[3] > 1) && new Set(expected.map((s) => s[0])).size < expected.length, 'some users have several sessions');

  // Every event carries its session's id, or an earlier id of it listed in mergedFrom.
  const sessionOf = new Map(sessions.flatMap((s) => [s.sessionId, ...s.mergedFrom].map((id) => [id, s])));
  for (const e of events) {
    const s = sessionOf.get(e.sessionId as string);
    assert.ok(s && s.key === e.userId && s.start <= (e.timestamp as number) && (e.timestamp as number) <= s.end, `event ${e.messageId as string}`);
  }
  assert.ok(sessions.every((s) => s.channels.join() === 'web' && s.durationMs === s.end - s.start));
  const counted = sessions.reduce<Record<string, number>>((acc, s) => {
    for (const [name, n] of Object.entries(s.eventCounts)) acc[name] = (acc[name] ?? 0) + n;
    return acc;
  }, {});
  const byName = events.reduce<Record<string, number>>((acc, e) => ((acc[e.event as string] = (acc[e.event as string] ?? 0) + 1), acc), {});
  assert.deepEqual(counted, byName);

  assert.equal(readNdjson(join(out, 'duplicates.ndjson')).length, 5);
  assert.deepEqual(readNdjson(join(out, 'dead-letter.ndjson')), []);
  assert.deepEqual(readNdjson(join(out, 'late.ndjson')), []);
  assert.match(r.stdout, new RegExp(`step sessionize: in ${events.length}, passed ${events.length}, emitted sessions ${expected.length}`));
});
