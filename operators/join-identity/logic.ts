/**
 * The logic of `joinIdentity` as the runtimes run it: embedded (lookup, then the resolver when
 * needed), and the two halves of Kafka `global-table` mode (a lookup in every task, one
 * resolver task).
 */
import type { TributaryEvent } from '../../lib/event/event.js';
import type { OperatorContext, OperatorLogic } from '../../lib/operator/contract.js';
import { IdentityLookup } from './lookup.js';
import type { JoinIdentityConfig } from './options.js';
import type { PersonEvent } from './records.js';
import { IdentityResolver } from './resolver.js';
import { openIdentityState, type IdentityTable } from './state.js';

/**
 * The embedded step: lookup, and the resolver when the event changes the graph.
 *
 * @example
 * ```ts
 * const ctx = recordingContext('joinIdentity');
 * const logic = new JoinIdentityLogic(joinIdentityOperator.resolve({}), ctx);
 * logic.process(event, ''); // { ...event, personId: 'p-…' }
 * ctx.emitted;              // identity-merges records
 * ```
 */
export class JoinIdentityLogic implements OperatorLogic {
  readonly lookup: IdentityLookup;
  readonly resolver: IdentityResolver;

  constructor(config: JoinIdentityConfig, private readonly ctx: OperatorContext) {
    const state = openIdentityState(ctx);
    this.resolver = new IdentityResolver(config, state, (r) => ctx.emit(config.output, r));
    this.lookup = this.resolver.lookup;
  }

  process(event: TributaryEvent): PersonEvent {
    const r = this.lookup.lookup(event);
    const personId = r.changesGraph ? this.resolver.apply(event, { identifiers: r.identifiers }) : r.personId;
    return this.ctx.annotate(event, 'personId', personId) as PersonEvent;
  }
}

/**
 * Kafka `global-table` mode, in every task: enriches an event from the global table, or, when
 * the event changes the graph, hands it (with the provisional `personId` the table gives) to the
 * resolver through `toResolver` and drops it here: the resolver forwards it with its final id.
 */
export class JoinIdentityLookupLogic implements OperatorLogic {
  private readonly lookup: IdentityLookup;

  constructor(config: JoinIdentityConfig, table: IdentityTable, private readonly toResolver: (event: PersonEvent) => void) {
    this.lookup = new IdentityLookup(config, table);
  }

  process(event: TributaryEvent): PersonEvent | null {
    const r = this.lookup.lookup(event);
    if (r.changesGraph) {
      this.toResolver({ ...event, personId: r.personId });
      return null;
    }
    return { ...event, personId: r.personId };
  }
}

/**
 * Kafka `global-table` mode, the one resolver task: applies an event the lookup handed over (its
 * `personId` is the provisional id the lookup gave it) and passes it on with the resolved id.
 */
export class JoinIdentityResolverLogic implements OperatorLogic {
  private readonly resolver: IdentityResolver;

  constructor(config: JoinIdentityConfig, ctx: OperatorContext) {
    this.resolver = new IdentityResolver(config, openIdentityState(ctx), (r) => ctx.emit(config.output, r));
  }

  process(event: TributaryEvent): PersonEvent {
    const { personId: provisional, ...rest } = event as PersonEvent;
    const personId = this.resolver.apply(rest, typeof provisional === 'string' ? { provisional } : {});
    return { ...rest, personId };
  }
}
