import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { TestDriver } from '../../lib/testing/driver.js';
import { defaultRegistry } from '../../operators/index.js';
import { ev, MIN } from '../support/events.js';
import { tempDir } from '../support/tmp.js';

const CONSENT_STEP = `  - consent: { key: userId }
`;
const yaml = (consentStep = CONSENT_STEP) => `
name: consent-test
source:
  key: [userId]
  allowedLateness: 30m
steps:
${consentStep}  - trigger:
      key: userId
      rules:
        - name: thank-you
          threshold: { match: { event: purchase }, count: 1, within: 1h }
          channels: [{ channel: email }, { channel: sms }]
      consent: {}
      suppressedOutput: suppressed
`;
const identify = (id: string, t: number, consent: Record<string, boolean>, userId = 'u1') => ev(id, t, { type: 'identify', event: null, userId, anonymousId: null, context: { consent } });
const buy = (id: string, t: number, userId = 'u1') => ev(id, t, { event: 'purchase', userId, anonymousId: null });

/** u1 grants email and sms, revokes email, buys, revokes sms, an older sms grant arrives late, buys again; u2 never gave consent. */
const STREAM: TributaryEvent[] = [
  identify('i1', 0, { email: true, sms: true }),
  identify('i2', 10 * MIN, { email: false }),
  buy('b1', 20 * MIN),
  identify('i3', 30 * MIN, { sms: false }),
  identify('i0', 25 * MIN, { sms: true }), // older than i3: does not override its revocation
  buy('b2', 40 * MIN),
  buy('b3', 40 * MIN, 'u2'),
];

const outcomes = (d: TestDriver) => ({
  triggers: d.read('triggers').map((r) => [r.rule, r.key, r.causes, r.channel]),
  suppressed: d.read('suppressed').map((r) => [r.rule, r.key, r.causes, r.reason]),
});

test('consent → trigger: the trigger gates on the merged consent; a revoked channel is skipped, all revoked is suppressed no-consent; an older consent arriving late does not re-grant', async () => {
  const d = TestDriver.fromYaml(yaml(), { registry: defaultRegistry });
  d.pipe(STREAM).end();
  const events = d.read('events');
  assert.deepEqual(events.map((e) => [e.messageId, (e as TributaryEvent).context?.consent]), [
    ['i1', { email: true, sms: true }],
    ['i2', { email: false, sms: true }],
    ['b1', { email: false, sms: true }],
    ['i3', { email: false, sms: false }],
    ['i0', { email: false, sms: true }], // in force at its own time, 25m
    ['b2', { email: false, sms: false }],
    ['b3', undefined],
  ]);
  assert.deepEqual(outcomes(d), {
    triggers: [['thank-you', 'u1', ['b1'], 'sms']],
    suppressed: [['thank-you', 'u1', ['b2'], 'no-consent'], ['thank-you', 'u2', ['b3'], 'no-consent']],
  });
  assert.deepEqual(d.query('consent', 'u1'), {
    key: 'u1',
    channels: [{ channel: 'email', granted: false, timestamp: 10 * MIN }, { channel: 'sms', granted: false, timestamp: 30 * MIN }],
    flags: { email: false, sms: false },
  });
  assert.equal(d.query('consent', 'u2'), undefined);
  await d.close();
});

test('consent → trigger, control: without the consent step the trigger only knows the last consent object (email: false), so b1 is suppressed too', async () => {
  const d = TestDriver.fromYaml(yaml(''), { registry: defaultRegistry });
  d.pipe(STREAM).end();
  assert.deepEqual(outcomes(d).triggers, []);
  await d.close();
});

test('consent restart: closed and reopened on the same LMDB state, the step continues with the consent it knew', async () => {
  const dir = tempDir();
  const reference = TestDriver.fromYaml(yaml(), { registry: defaultRegistry });
  reference.pipe(STREAM).end();
  const want = { events: reference.read('events'), ...outcomes(reference) };
  await reference.close();

  for (const cut of [2, 3, 5]) {
    const stateDir = `${dir}/cut-${cut}`;
    const first = TestDriver.fromYaml(yaml(), { registry: defaultRegistry, stateDir });
    first.pipe(STREAM.slice(0, cut));
    const before = { events: first.read('events'), ...outcomes(first) };
    await first.close();
    const second = TestDriver.fromYaml(yaml(), { registry: defaultRegistry, stateDir });
    assert.deepEqual((second.query('consent', 'u1') as { flags: unknown }).flags, { email: false, sms: cut < 4 }, `restored after ${cut}`);
    second.pipe(STREAM.slice(cut)).end();
    const after = { events: second.read('events'), ...outcomes(second) };
    assert.deepEqual({ events: [...before.events, ...after.events], triggers: [...before.triggers, ...after.triggers], suppressed: [...before.suppressed, ...after.suppressed] }, want, `cut after ${cut}`);
    await second.close();
  }
});
