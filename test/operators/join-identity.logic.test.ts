import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { deriveId } from '../../lib/operator/ids.js';
import { MemoryStoreFactory } from '../../lib/state/engines/memory.js';
import { recordingContext } from '../../lib/testing/context.js';
import {
  IdentityLookup,
  IdentityResolver,
  identifierOf,
  JoinIdentityLogic,
  joinIdentityOperator,
  openIdentityState,
  personIdFor,
  type IdentityMergeRecord,
  type JoinIdentityOptions,
} from '../../operators/join-identity.js';

const MIN = 60_000;
type Ids = { userId?: string; anonymousId?: string; traits?: Record<string, unknown> };
const track = (m: string, t: number, ids: Ids): TributaryEvent => ({
  messageId: m, type: 'track', event: 'product_viewed', userId: ids.userId ?? null, anonymousId: ids.anonymousId ?? null, timestamp: t,
  ...(ids.traits ? { traits: ids.traits } : {}),
});
const identify = (m: string, t: number, userId: string, anonymousId: string): TributaryEvent => ({
  messageId: m, type: 'identify', userId, anonymousId, timestamp: t, traits: { email: `${userId}@example.com` },
});
const alias = (m: string, t: number, userId: string, previousId: string): TributaryEvent => ({
  messageId: m, type: 'alias', userId, anonymousId: null, previousId, timestamp: t,
});

/** Person id of the person first created by this identifier (`u:u1`, `a:a1`, `e:h1` shorthands). */
const P = (short: string): string => personIdFor(expand(short));
const expand = (short: string): string => short.replace(/^u:/, 'userId:').replace(/^a:/, 'anonymousId:').replace(/^e:/, 'traits.emailHash:');
const merged = (survivor: string, absorbed: string, pair: [string, string], messageId: string, timestamp: number, eventType: string): IdentityMergeRecord => ({
  mergeId: deriveId('identity-merges', 'merged', P(survivor), P(absorbed)),
  status: 'merged', personId: P(survivor), mergedPersonId: P(absorbed), identifiers: pair.map(expand), messageId, timestamp, eventType,
});
const refused = (
  survivor: string, absorbed: string, pair: [string, string], messageId: string, timestamp: number, eventType: string,
  reason: IdentityMergeRecord['reason'], detail: string,
): IdentityMergeRecord => {
  const [a, b] = pair.map(expand).sort() as [string, string];
  return {
    mergeId: deriveId('identity-merges', 'refused', a, b),
    status: 'refused', personId: P(survivor), mergedPersonId: P(absorbed), identifiers: pair.map(expand), messageId, timestamp, eventType, reason, detail,
  };
};

function setup(options: JoinIdentityOptions = {}) {
  const ctx = recordingContext('joinIdentity');
  const logic = new JoinIdentityLogic(joinIdentityOperator.resolve(options), ctx);
  return { ctx, logic, run: (events: TributaryEvent[]) => events.map((e) => logic.process(e).personId) };
}

interface Case {
  name: string;
  options?: JoinIdentityOptions;
  events: TributaryEvent[];
  /** The person of each event, by the identifier that created it. */
  persons: string[];
  merges: IdentityMergeRecord[];
}

const EMAIL: JoinIdentityOptions = { identifiers: ['userId', 'anonymousId', 'traits.emailHash'] };

const cases: Case[] = [
  {
    name: 'identify links anonymousId↔userId: the anonymous person gains the user id, no merge record',
    events: [track('m1', 0, { anonymousId: 'a1' }), identify('m2', 1, 'u1', 'a1'), track('m3', 2, { userId: 'u1' }), track('m4', 3, { anonymousId: 'a1' })],
    persons: ['a:a1', 'a:a1', 'a:a1', 'a:a1'],
    merges: [],
  },
  {
    name: 'identify with both identifiers new creates one person named after the userId',
    events: [identify('m1', 0, 'u1', 'a1'), track('m2', 1, { anonymousId: 'a1' })],
    persons: ['u:u1', 'u:u1'],
    merges: [],
  },
  {
    name: 'transitive merge: a second device identified as the same user merges; earlier person survives',
    events: [
      track('m1', 0, { anonymousId: 'a1' }), identify('m2', MIN, 'u1', 'a1'),
      track('m3', 2 * MIN, { anonymousId: 'a2' }), identify('m4', 3 * MIN, 'u1', 'a2'), track('m5', 4 * MIN, { anonymousId: 'a2' }),
    ],
    persons: ['a:a1', 'a:a1', 'a:a2', 'a:a1', 'a:a1'],
    merges: [merged('a:a1', 'a:a2', ['u:u1', 'a:a2'], 'm4', 3 * MIN, 'identify')],
  },
  {
    name: 'any event with two identifiers links them (track with anonymousId and userId)',
    events: [track('m1', 0, { userId: 'u1' }), track('m2', 1, { anonymousId: 'a1' }), track('m3', 2, { userId: 'u1', anonymousId: 'a1' }), track('m4', 3, { anonymousId: 'a1' })],
    persons: ['u:u1', 'a:a1', 'u:u1', 'u:u1'],
    merges: [merged('u:u1', 'a:a1', ['u:u1', 'a:a1'], 'm3', 2, 'track')],
  },
  {
    name: 'a configured trait links devices without a userId (two-identifier track events)',
    options: EMAIL,
    events: [
      track('m1', 0, { anonymousId: 'a1' }), track('m2', 1, { anonymousId: 'a2', traits: { emailHash: 'h1' } }),
      track('m3', 2, { anonymousId: 'a1', traits: { emailHash: 'h1' } }), track('m4', 3, { anonymousId: 'a2' }),
    ],
    persons: ['a:a1', 'a:a2', 'a:a1', 'a:a1'],
    merges: [merged('a:a1', 'a:a2', ['a:a1', 'e:h1'], 'm3', 2, 'track')],
  },
  {
    name: 'survivor: the person seen first by event time survives even when it arrives second (out of order)',
    events: [
      track('m1', 10 * MIN, { anonymousId: 'a1' }), track('m2', 5 * MIN, { anonymousId: 'a2' }),
      identify('m3', 11 * MIN, 'u1', 'a1'), identify('m4', 12 * MIN, 'u1', 'a2'), track('m5', 13 * MIN, { anonymousId: 'a1' }),
    ],
    persons: ['a:a1', 'a:a2', 'a:a1', 'a:a2', 'a:a2'],
    merges: [merged('a:a2', 'a:a1', ['u:u1', 'a:a2'], 'm4', 12 * MIN, 'identify')],
  },
  {
    name: 'survivor: an older sighting arriving later lowers first-seen (min event time counts, not first arrival)',
    events: [
      track('m1', 10 * MIN, { anonymousId: 'a1' }), track('m2', 7 * MIN, { anonymousId: 'a2' }), track('m3', 5 * MIN, { anonymousId: 'a1' }),
      identify('m4', 11 * MIN, 'u1', 'a1'), identify('m5', 12 * MIN, 'u1', 'a2'),
    ],
    persons: ['a:a1', 'a:a2', 'a:a1', 'a:a1', 'a:a1'],
    merges: [merged('a:a1', 'a:a2', ['u:u1', 'a:a2'], 'm5', 12 * MIN, 'identify')],
  },
  {
    name: 'survivor: equal first-seen → the smaller personId survives',
    events: [track('m1', 0, { anonymousId: 'a1' }), track('m2', 0, { anonymousId: 'a2' }), track('m3', 1, { anonymousId: 'a1', userId: 'u1' }), track('m4', 2, { anonymousId: 'a2', userId: 'u1' })],
    persons: ['a:a1', 'a:a2', 'a:a1', P('a:a1') < P('a:a2') ? 'a:a1' : 'a:a2'],
    merges: [P('a:a1') < P('a:a2') ? merged('a:a1', 'a:a2', ['u:u1', 'a:a2'], 'm4', 2, 'track') : merged('a:a2', 'a:a1', ['u:u1', 'a:a2'], 'm4', 2, 'track')],
  },
  {
    name: 'alias links previousId↔userId; previousId already a userId → merges two user ids (alias overrides maxUserIds)',
    events: [track('m1', 0, { userId: 'loyalty-7' }), track('m2', 1, { userId: 'u7', anonymousId: 'a7' }), alias('m3', 2, 'u7', 'loyalty-7'), track('m4', 3, { userId: 'loyalty-7' })],
    persons: ['u:loyalty-7', 'u:u7', 'u:loyalty-7', 'u:loyalty-7'],
    merges: [merged('u:loyalty-7', 'u:u7', ['u:u7', 'u:loyalty-7'], 'm3', 2, 'alias')],
  },
  {
    name: 'alias: previousId held by an anonymousId links as that anonymousId',
    events: [track('m1', 0, { anonymousId: 'x9' }), alias('m2', 1, 'u1', 'x9'), track('m3', 2, { anonymousId: 'x9' }), track('m4', 3, { userId: 'x9' })],
    persons: ['a:x9', 'a:x9', 'a:x9', 'u:x9'],
    merges: [],
  },
  {
    name: 'alias: previousId never seen links as a userId',
    events: [alias('m1', 0, 'u1', 'legacy-1'), track('m2', 1, { userId: 'legacy-1' }), track('m3', 2, { anonymousId: 'legacy-1' })],
    persons: ['u:u1', 'u:u1', 'a:legacy-1'],
    merges: [],
  },
  {
    name: 'alias without its userId (malformed) links nothing: previousId is ignored',
    events: [track('m1', 0, { userId: 'u1' }), { ...alias('m2', 1, 'x', 'u1'), userId: null, anonymousId: 'a1' }],
    persons: ['u:u1', 'a:a1'],
    merges: [],
  },
  {
    name: 'family laptop: u2 on u1\'s device is refused once (max-user-ids); u2\'s events go to u2, the device\'s to u1',
    events: [
      identify('m1', 0, 'u1', 'lap'), track('m2', 1, { userId: 'u1', anonymousId: 'lap' }),
      identify('m3', 2, 'u2', 'lap'), track('m4', 3, { userId: 'u2', anonymousId: 'lap' }), track('m5', 4, { anonymousId: 'lap' }), track('m6', 5, { userId: 'u2' }),
    ],
    persons: ['u:u1', 'u:u1', 'u:u2', 'u:u2', 'u:u1', 'u:u2'],
    merges: [
      refused('u:u1', 'u:u2', ['u:u2', 'a:lap'], 'm3', 2, 'identify', 'max-user-ids',
        'userId:u2 and userId:u1 would be 2 user ids in one person (maxUserIds 1; only an alias merges user ids)'),
    ],
  },
  {
    name: 'family laptop then an alias of u2 to u1: one person, later u2 events on the laptop are no longer refused',
    events: [identify('m1', 0, 'u1', 'lap'), identify('m2', 1, 'u2', 'lap'), alias('m3', 2, 'u2', 'u1'), track('m4', 3, { userId: 'u2', anonymousId: 'lap' })],
    persons: ['u:u1', 'u:u2', 'u:u1', 'u:u1'],
    merges: [
      refused('u:u1', 'u:u2', ['u:u2', 'a:lap'], 'm2', 1, 'identify', 'max-user-ids',
        'userId:u2 and userId:u1 would be 2 user ids in one person (maxUserIds 1; only an alias merges user ids)'),
      merged('u:u1', 'u:u2', ['u:u2', 'u:u1'], 'm3', 2, 'alias'),
    ],
  },
  {
    name: 'maxUserIds 2 lets a device link two users, refuses the third',
    options: { maxUserIds: 2 },
    events: [identify('m1', 0, 'u1', 'lap'), identify('m2', 1, 'u2', 'lap'), identify('m3', 2, 'u3', 'lap')],
    persons: ['u:u1', 'u:u1', 'u:u3'],
    merges: [
      refused('u:u1', 'u:u3', ['u:u3', 'a:lap'], 'm3', 2, 'identify', 'max-user-ids',
        'userId:u3 and userId:u1, userId:u2 would be 3 user ids in one person (maxUserIds 2; only an alias merges user ids)'),
    ],
  },
  {
    name: 'identifier cap: the link that would exceed maxIdentifiersPerPerson is refused; the new device stays its own person',
    options: { maxIdentifiersPerPerson: 3 },
    events: [identify('m1', 0, 'u1', 'a1'), identify('m2', 1, 'u1', 'a2'), identify('m3', 2, 'u1', 'a3'), track('m4', 3, { anonymousId: 'a3' })],
    persons: ['u:u1', 'u:u1', 'u:u1', 'a:a3'],
    merges: [
      refused('u:u1', 'a:a3', ['u:u1', 'a:a3'], 'm3', 2, 'identify', 'max-identifiers-per-person', 'the merged person would hold 4 identifiers (maxIdentifiersPerPerson 3)'),
    ],
  },
  {
    name: 'link cap: a shared email hash (test account) stops linking devices after maxLinksPerIdentifier',
    options: { ...EMAIL, maxLinksPerIdentifier: 2 },
    events: [
      track('m1', 0, { anonymousId: 'k1', traits: { emailHash: 'test' } }), track('m2', 1, { anonymousId: 'k2', traits: { emailHash: 'test' } }),
      track('m3', 2, { anonymousId: 'k3', traits: { emailHash: 'test' } }), track('m4', 3, { anonymousId: 'k3', traits: { emailHash: 'test' } }),
    ],
    persons: ['a:k1', 'a:k1', 'a:k3', 'a:k3'],
    merges: [
      refused('a:k1', 'a:k3', ['a:k3', 'e:test'], 'm3', 2, 'track', 'max-links-per-identifier', 'traits.emailHash:test already has 2 links (maxLinksPerIdentifier 2)'),
    ],
  },
  {
    name: 'the userId anchors the event even when the configured order lists anonymousId first',
    options: { identifiers: ['anonymousId', 'userId'] },
    events: [identify('m1', 0, 'u1', 'lap'), track('m2', 1, { userId: 'u2', anonymousId: 'lap' })],
    persons: ['u:u1', 'u:u2'],
    merges: [
      refused('u:u1', 'u:u2', ['u:u2', 'a:lap'], 'm2', 1, 'track', 'max-user-ids',
        'userId:u2 and userId:u1 would be 2 user ids in one person (maxUserIds 1; only an alias merges user ids)'),
    ],
  },
  {
    name: 'equal values of different fields never collide',
    events: [track('m1', 0, { userId: 'same' }), track('m2', 1, { anonymousId: 'same' })],
    persons: ['u:same', 'a:same'],
    merges: [],
  },
];

for (const c of cases) {
  test(`joinIdentity logic: ${c.name}`, () => {
    const { ctx, run } = setup(c.options);
    assert.deepEqual(run(c.events), c.persons.map(P));
    assert.deepEqual(ctx.emitted.map((e) => e.stream), c.merges.map(() => 'identity-merges'));
    assert.deepEqual(ctx.emitted.map((e) => e.record), c.merges);
    assert.deepEqual(ctx.drops, []);
  });
}

test('joinIdentity logic: a lookup of an absorbed person id resolves to the survivor, through merges of merges', () => {
  const { ctx, logic, run } = setup();
  run([
    track('m1', 0, { anonymousId: 'a1' }), track('m2', 1, { anonymousId: 'a2' }), track('m3', 2, { anonymousId: 'a3' }),
    identify('m4', 3, 'u1', 'a2'), identify('m5', 4, 'u1', 'a3'), // a3's person absorbed into a2's
    identify('m6', 5, 'u1', 'a1'), // then a2's (with a3's) into a1's
  ]);
  for (const p of ['a:a1', 'a:a2', 'a:a3']) assert.equal(logic.lookup.personOf(P(p)), P('a:a1'));
  assert.equal(logic.lookup.personOf('p-unknown'), 'p-unknown');
  // Path compression on write: every absorbed id points straight at the survivor.
  const absorbed = [...openIdentityState(ctx).absorbed.range()].map((e) => [e.key, e.value]);
  assert.deepEqual(absorbed.sort(), [[P('a:a2'), P('a:a1')], [P('a:a3'), P('a:a1')]].sort());
});

test('joinIdentity logic: the person record holds identifiers, user ids, first-seen and absorbed ids', () => {
  const ctx = recordingContext('joinIdentity');
  const logic = new JoinIdentityLogic(joinIdentityOperator.resolve({}), ctx);
  for (const e of [track('m1', 5, { anonymousId: 'a1' }), track('m2', 2, { anonymousId: 'a2' }), identify('m3', 6, 'u1', 'a1'), identify('m4', 7, 'u1', 'a2')]) logic.process(e);
  const state = openIdentityState(ctx);
  assert.deepEqual(state.persons.get(P('a:a2')), {
    personId: P('a:a2'), identifiers: ['anonymousId:a2', 'anonymousId:a1', 'userId:u1'], userIds: ['userId:u1'], firstSeen: 2, absorbed: [P('a:a1')],
  });
  assert.equal(state.persons.get(P('a:a1')), undefined, 'the absorbed person record is gone');
  assert.deepEqual(state.ids.get('anonymousId:a1'), { personId: P('a:a2'), firstSeen: 5 });
  assert.deepEqual(state.ids.get('userId:u1'), { personId: P('a:a2'), firstSeen: 6 });
  assert.deepEqual([...state.links.range()].map((e) => [e.key, e.value]), [['anonymousId:a1', 1], ['anonymousId:a2', 1], ['userId:u1', 2]]);
});

test('joinIdentity lookup: an event inside one known person needs no resolver; new, older, cross-person and alias events do', () => {
  const { logic } = setup();
  logic.process(identify('m1', 10, 'u1', 'a1'));
  logic.process(track('m2', 10, { anonymousId: 'a2' }));
  const flag = (e: TributaryEvent) => logic.lookup.lookup(e).changesGraph;
  assert.equal(flag(track('x', 20, { userId: 'u1', anonymousId: 'a1' })), false, 'both identifiers already in one person');
  assert.equal(flag(track('x', 20, { anonymousId: 'a1' })), false);
  assert.equal(flag(track('x', 20, { anonymousId: 'a9' })), true, 'a new identifier (a sighting)');
  assert.equal(flag(track('x', 5, { anonymousId: 'a1' })), true, 'older than its first sighting');
  assert.equal(flag(track('x', 20, { userId: 'u1', anonymousId: 'a2' })), true, 'links two persons');
  assert.equal(flag(alias('x', 20, 'u1', 'a1')), true, 'every alias');
  assert.deepEqual(logic.lookup.lookup(track('x', 20, { anonymousId: 'a9', userId: 'u1' })), {
    personId: P('u:u1'), changesGraph: true, identifiers: ['userId:u1', 'anonymousId:a9'],
  });
  assert.equal(logic.lookup.lookup(track('x', 20, { anonymousId: 'a9' })).personId, P('a:a9'), 'a miss computes the new person id locally');
});

test('joinIdentity lookup: an event with none of the identifiers is an error naming them', () => {
  const { logic } = setup();
  assert.throws(() => logic.process(track('m1', 0, {})), /event m1 has none of the identifiers userId, anonymousId/);
});

test('joinIdentity Kafka split: a stale lookup hands out provisional ids; the resolver records and reports them', () => {
  // The resolver's task owns the state; a lookup task reads a copy that lags (here: empty).
  const emitted: IdentityMergeRecord[] = [];
  const config = joinIdentityOperator.resolve({});
  const resolverStores = new MemoryStoreFactory();
  const state = openIdentityState({ store: (n) => resolverStores.open(`joinIdentity.${n}`) });
  const resolver = new IdentityResolver(config, state, (r) => emitted.push(r));
  const laggingStores = new MemoryStoreFactory();
  const lagging = new IdentityLookup(config, openIdentityState({ store: (n) => laggingStores.open(`joinIdentity.${n}`) }));

  // Partition 1 sees a1's first event; partition 2 the identify. The identify reaches the resolver first.
  const sighting = track('m1', 0, { anonymousId: 'a1' });
  const login = identify('m2', 1, 'u1', 'a1');
  const l1 = lagging.lookup(sighting);
  const l2 = lagging.lookup(login);
  assert.deepEqual([l1.personId, l1.changesGraph, l2.personId, l2.changesGraph], [P('a:a1'), true, P('u:u1'), true]);
  assert.equal(resolver.apply(login, { provisional: l2.personId }), P('u:u1'), 'u1 and a1 new together: person of the userId, as provisioned');
  assert.equal(resolver.apply(sighting, { provisional: l1.personId }), P('u:u1'));
  assert.deepEqual(emitted, [{
    mergeId: deriveId('identity-merges', 'merged', P('u:u1'), P('a:a1')),
    status: 'merged', personId: P('u:u1'), mergedPersonId: P('a:a1'), identifiers: ['anonymousId:a1'],
    messageId: 'm1', timestamp: 0, eventType: 'track', provisional: true,
  }]);
  assert.equal(resolver.lookup.personOf(P('a:a1')), P('u:u1'), 'the provisional id resolves to the survivor');
  // The table (ids, absorbed) is what the resolver writes to the compacted topic; once it reaches
  // the lookup task, lookups agree with the resolver and need it no more.
  for (const name of ['ids', 'absorbed'] as const) for (const { key, value } of state[name].range()) laggingStores.open(`joinIdentity.${name}`).put(key, value);
  assert.deepEqual(lagging.lookup(track('m3', 2, { anonymousId: 'a1' })), { personId: P('u:u1'), changesGraph: false, identifiers: ['anonymousId:a1'] });
  // A provisional id that is a real (absorbed) person is not re-reported.
  emitted.length = 0;
  resolver.apply(track('m4', 3, { anonymousId: 'a1', userId: 'u1' }), { provisional: P('a:a1') });
  assert.deepEqual(emitted, []);
});

test('joinIdentity Kafka split: a new user id joining an older person provisionally got its own id; the resolver reports it', () => {
  const emitted: IdentityMergeRecord[] = [];
  const { ctx } = setup();
  const resolver = new IdentityResolver(joinIdentityOperator.resolve({}), openIdentityState(ctx), (r) => emitted.push(r));
  resolver.apply(track('m1', 0, { anonymousId: 'a1' }));
  const login = identify('m2', 1, 'u1', 'a1');
  const provisional = resolver.lookup.lookup(login).personId; // what a lookup task hands out before the resolver has seen it
  assert.equal(provisional, P('u:u1'));
  assert.equal(resolver.apply(login, { provisional }), P('a:a1'));
  assert.deepEqual(emitted.map((r) => [r.status, r.personId, r.mergedPersonId, r.provisional]), [['merged', P('a:a1'), P('u:u1'), true]]);
});

test('joinIdentity logic: long or unstorable identifier values are hashed, and still link', () => {
  const long = 'x'.repeat(5000);
  assert.match(identifierOf('userId', long), /^userId#[0-9a-f]{32}$/);
  assert.match(identifierOf('anonymousId', 'a\u0000b'), /^anonymousId#[0-9a-f]{32}$/);
  assert.match(identifierOf('anonymousId', 'bad\uD800'), /^anonymousId#[0-9a-f]{32}$/);
  assert.equal(identifierOf('anonymousId', 'ok 😀'), 'anonymousId:ok 😀');
  // Values that differ only in a lone surrogate are different identifiers (UTF-8 would make both U+FFFD).
  assert.notEqual(identifierOf('anonymousId', 'bad\uD800'), identifierOf('anonymousId', 'bad\uD801'));
  assert.notEqual(identifierOf('anonymousId', `${'x'.repeat(300)}\uD800`), identifierOf('anonymousId', `${'x'.repeat(300)}\uFFFD`));
  // Well-formed values hash as before (their UTF-8): identifiers already stored keep their meaning.
  assert.equal(identifierOf('userId', long), `userId#${createHash('sha256').update(long, 'utf8').digest('hex').slice(0, 32)}`);
  const { run } = setup();
  const id = identifierOf('userId', long);
  assert.deepEqual(run([track('m1', 0, { userId: long, anonymousId: 'a\u0000b' }), track('m2', 1, { anonymousId: 'a\u0000b' })]), [personIdFor(id), personIdFor(id)]);
});

test('joinIdentity options: defaults, and errors that name the option and the fix', () => {
  assert.deepEqual(joinIdentityOperator.resolve({}), {
    identifiers: ['userId', 'anonymousId'], output: 'identity-merges', maxUserIds: 1, maxIdentifiersPerPerson: 100, maxLinksPerIdentifier: 50, mode: 'single-task',
  });
  assert.deepEqual(joinIdentityOperator.keyPaths(joinIdentityOperator.resolve(EMAIL)), ['userId', 'anonymousId', 'traits.emailHash']);
  assert.deepEqual(joinIdentityOperator.stores(joinIdentityOperator.resolve({})), ['ids', 'absorbed', 'persons', 'links', 'refused']);
  assert.deepEqual(joinIdentityOperator.outputs(joinIdentityOperator.resolve({ output: 'merges' })), [{ stream: 'merges', kind: 'identity-merges', key: ['personId'] }]);
  assert.throws(() => joinIdentityOperator.resolve({ identifiers: [] }), /joinIdentity\.identifiers: list at least one/);
  assert.throws(() => joinIdentityOperator.resolve({ identifiers: ['userId', 'userId'] }), /lists a field twice/);
  assert.throws(() => joinIdentityOperator.resolve({ identifiers: ['a:b'] }), /"a:b" is not usable \(contains ":" or "#"\)/);
  assert.throws(() => joinIdentityOperator.resolve({ identifiers: ['traits..x'] }), /not usable \(empty segment\)/);
  assert.throws(() => joinIdentityOperator.resolve({ identifiers: ['personId'] }), /personId is what joinIdentity writes/);
  assert.throws(() => joinIdentityOperator.resolve({ maxUserIds: 0 }), /joinIdentity\.maxUserIds: 0 is not an integer ≥ 1/);
  assert.throws(() => joinIdentityOperator.resolve({ maxIdentifiersPerPerson: 1.5 }), /maxIdentifiersPerPerson: 1.5 is not an integer ≥ 2/);
});
