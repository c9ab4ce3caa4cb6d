/**
 * joinIdentity against the generator's ground truth (lib/generate): customer i is `user-(i+1)`,
 * may hold `loyalty-(i+1)` (a store-side user id until an alias links it), and owns up to three
 * devices whose anonymousIds the generator derives from (seed, i, device). No device or id is
 * ever shared between customers, so no person may span two customers; and which identifiers
 * belong together is what the processed events say (identify/track pairs, aliases).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { from, lastValueFrom, toArray } from 'rxjs';
import type { TributaryEvent } from '../../lib/event/event.js';
import type { DerivedRecord } from '../../lib/operator/contract.js';
import { generateWithStats, hash32 } from '../../lib/generate/index.js';
import { joinIdentity, personIdFor, type IdentityMergeRecord } from '../../operators/join-identity.js';

const SEED = 3;
const CUSTOMERS = 1000;
const EVENTS = 60_000;
const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

/** The customer owning a raw identifier value, from the generator's naming scheme. */
function ownerIndex(): (field: string, value: string) => number {
  const anon = new Map<string, number>();
  for (let i = 0; i < CUSTOMERS; i++) {
    for (let d = 0; d < 3; d++) anon.set(`a-${hex8(hash32(SEED, 'anon', i, d, 0))}${hex8(hash32(SEED, 'anon', i, d, 1))}`, i);
  }
  return (field, value) => {
    const m = /^(?:user|loyalty)-(\d+)$/.exec(value);
    const owner = field === 'userId' && m ? Number(m[1]) - 1 : field === 'anonymousId' ? anon.get(value) : undefined;
    if (owner === undefined) throw new Error(`no ground truth for ${field}=${value}`);
    return owner;
  };
}

class UnionFind {
  private readonly parent = new Map<string, string>();
  find(x: string): string {
    let p = this.parent.get(x) ?? x;
    if (p !== x) this.parent.set(x, (p = this.find(p)));
    else this.parent.set(x, x);
    return p;
  }
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(ra, rb);
  }
}

test('joinIdentity on a generated stream: persons are exactly the linked components, one per user id, never across customers', async () => {
  const { events, stats } = generateWithStats({ events: EVENTS, seed: SEED, customers: CUSTOMERS });
  const merges: IdentityMergeRecord[] = [];
  const late: DerivedRecord[] = [];
  const out = await lastValueFrom(
    from(events).pipe(
      joinIdentity({ allowedLateness: '1m', outputs: { 'identity-merges': (r) => merges.push(r as IdentityMergeRecord), late: (r) => late.push(r) } }),
      toArray(),
    ),
  );
  assert.equal(out.length + late.length, stats.events);
  assert.ok(late.length > 0 && late.length < stats.events * 0.01, `some late events (${late.length})`);

  // Merge records are all a consumer needs to move an event's personId to its final person.
  assert.deepEqual(merges.filter((m) => m.status !== 'merged'), [], 'the generator never shares a device: nothing is refused');
  const survivorOf = new Map(merges.map((m) => [m.mergedPersonId, m.personId]));
  const final = (p: string): string => {
    for (let next = survivorOf.get(p); next !== undefined; next = survivorOf.get(p)) p = next;
    return p;
  };
  assert.equal(new Set(merges.map((m) => m.mergeId)).size, merges.length, 'merge ids are unique');

  // Ground truth of linkage: union identifiers that the processed events put together.
  const owner = ownerIndex();
  const uf = new UnionFind();
  const typed = (e: TributaryEvent) => [e.userId ? `userId:${e.userId}` : null, e.anonymousId ? `anonymousId:${e.anonymousId}` : null].filter((x): x is string => x !== null);
  for (const e of out) {
    const ids = typed(e);
    for (const id of ids.slice(1)) uf.union(ids[0] as string, id);
    if (e.type === 'alias' && e.previousId) uf.union(ids[0] as string, `${e.previousId.startsWith('a-') ? 'anonymousId' : 'userId'}:${e.previousId}`);
  }

  const personOfComponent = new Map<string, string>();
  const componentOfPerson = new Map<string, string>();
  const customersOfPerson = new Map<string, Set<number>>();
  const personsOfUser = new Map<string, Set<string>>();
  const componentMembers = new Map<string, Set<string>>();
  for (const e of out) {
    const ids = typed(e);
    const component = uf.find(ids[0] as string);
    const person = final(e.personId);
    assert.equal(personOfComponent.get(component) ?? person, person, `${e.messageId}: one component, one person`);
    assert.equal(componentOfPerson.get(person) ?? component, component, `${e.messageId}: one person, one component`);
    personOfComponent.set(component, person);
    componentOfPerson.set(person, component);
    for (const id of ids) {
      const [field, value] = [id.slice(0, id.indexOf(':')), id.slice(id.indexOf(':') + 1)];
      let set = customersOfPerson.get(person);
      if (!set) customersOfPerson.set(person, (set = new Set()));
      set.add(owner(field, value));
      let members = componentMembers.get(component);
      if (!members) componentMembers.set(component, (members = new Set()));
      members.add(id);
    }
    if (e.userId) {
      let set = personsOfUser.get(e.userId);
      if (!set) personsOfUser.set(e.userId, (set = new Set()));
      set.add(person);
    }
  }
  for (const [person, customers] of customersOfPerson) assert.equal(customers.size, 1, `${person} spans customers ${[...customers].join(', ')}`);
  for (const [userId, persons] of personsOfUser) assert.equal(persons.size, 1, `${userId}'s events end in one person`);
  for (const [component, person] of personOfComponent) {
    const ids = [...(componentMembers.get(component) as Set<string>)];
    assert.ok(ids.some((id) => personIdFor(id) === person), `the person id comes from one of its identifiers (${ids.join(', ')})`);
  }

  // The stream exercised the interesting paths.
  const aliases = out.filter((e) => e.type === 'alias').length;
  const multiDevice = [...componentMembers.values()].filter((ids) => [...ids].filter((i) => i.startsWith('anonymousId:')).length >= 2).length;
  const loyaltyLinked = [...componentMembers.values()].filter((ids) => [...ids].some((i) => i.startsWith('userId:loyalty-')) && [...ids].some((i) => i.startsWith('userId:user-'))).length;
  assert.ok(aliases > 10 && multiDevice > 20 && loyaltyLinked > 5 && merges.length > 100, JSON.stringify({ aliases, multiDevice, loyaltyLinked, merges: merges.length }));
  assert.ok(personOfComponent.size >= stats.customers, 'never fewer persons than customers');
});
