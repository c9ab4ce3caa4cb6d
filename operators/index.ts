/**
 * The operator registry: every operator by its pipeline key. The compiler, the runners and
 * the schema receive this map (`lib` never imports `operators/`).
 */
import type { OperatorDefinition, OperatorRegistry } from '../lib/operator/contract.js';
import { dedupeOperator } from './dedupe.js';
import { filterOperator } from './filter.js';
import { funnelOperator } from './funnel.js';
import { mapOperator } from './map.js';
import { maskOperator } from './mask.js';
import { routeOperator } from './route.js';
import { validateOperator } from './validate.js';
import { joinIdentityOperator } from './join-identity.js';
import { sessionizeOperator } from './sessionize.js';
import { triggerOperator } from './trigger.js';
import { windowAggregateOperator } from './window-aggregate.js';
import { attributionOperator } from './attribution.js';
import { scoreOperator } from './score.js';
import { consentOperator } from './consent.js';

export { dedupe, dedupeOperator, dedupeQuery, DedupeLogic, type DedupeKeyState, type DedupeOptions, type DedupeConfig, type DuplicateRecord } from './dedupe.js';
export { joinIdentity, joinIdentityOperator, joinIdentityQuery, JoinIdentityLogic, type PersonState, type IdentityQueryStores, IdentityLookup, IdentityResolver, openIdentityState, identifierOf, personIdFor, type JoinIdentityOptions, type JoinIdentityConfig, type IdentityMergeRecord, type PersonEvent, type PersonRecord, type IdentifierEntry, type IdentityTable, type IdentityState, type Identifier, type RefusalReason, type LookupResult, type ApplyOptions } from './join-identity.js';
export { sessionize, sessionizeOperator, sessionizeQuery, sessionRecord, type SessionizeKeyState, type OpenSessionState, SessionizeLogic, type SessionizeOptions, type SessionizeConfig, type SessionRecord, type SessionEventRef, type SessionState } from './sessionize.js';
export { windowAggregate, windowAggregateOperator, windowAggregateQuery, WindowAggregateLogic, AGGREGATE_KINDS, type WindowAggregateOptions, type WindowAggregateConfig, type WindowAggregateStores, type AggregateRecord, type AggregateSpec, type WindowSpec, type CurrentValues, type WindowState, type SlidingEntry } from './window-aggregate.js';
export { funnel, funnelOperator, funnelQuery, funnelRecord, firstAttempt, FunnelLogic, type FunnelOptions, type FunnelConfig, type FunnelRecord, type FunnelKeyQuery, type FunnelKeyState } from './funnel.js';
export { filterEvents, filterOperator, FilterLogic, type FilterOptions, type FilterConfig } from './filter.js';
export { mapEvents, mapOperator, MapLogic, type MapOptions } from './map.js';
export { maskEvents, maskOperator, MaskLogic, maskValue, type MaskOptions, type MaskConfig } from './mask.js';
export { routeEvents, routeOperator, RouteLogic, type RouteOptions, type RouteConfig } from './route.js';
export { validateEvents, validateOperator, ValidateLogic, type ValidateOptions, type ValidateConfig } from './validate.js';
export { trigger, triggerOperator, triggerQuery, TriggerLogic, type TriggerKeyState, type RuleQueryState, type KeptEvent, type TriggerQueryStores, type TriggerOptions, type TriggerConfig, type TriggerRecord, type SuppressedRecord, type SuppressionReason, type TriggerRuleOptions, type PairRuleOptions, type ThresholdRuleOptions, type SegmentRuleOptions, type ChannelOption, type TriggerRule, type PairRule, type ThresholdRule, type SegmentRule, type RuleCommon } from './trigger.js';
export { attribution, attributionOperator, attributionQuery, AttributionLogic, MODEL_NAMES, credits, firstTouch, lastTouch, linear, positionBased, timeDecay, type ModelName, type ModelParams, type AttributionKeyState, type AttributionOptions, type AttributionConfig, type AttributionRecord, type ChannelCreditRecord, type CreditedTouchpoint, type Credits, type JourneyState, type PendingConversion, type Touchpoint } from './attribution.js';
export { scoreEvents, scoreOperator, ScoreLogic, resolveScoreOptions, scoreEvent, sigmoid, type ScoreOptions, type ScoreConfig, type LinearModelOptions, type ScoreModel, type ScoreOutcome, type ScoreReason } from './score.js';
export { consentEvents, consentOperator, consentQuery, ConsentLogic, resolveConsentOptions, type ConsentOptions, type ConsentConfig, type ConsentKeyState, type ConsentState, type ChannelHistory } from './consent.js';

/** Every built-in operator. */
export const defaultRegistry: OperatorRegistry = new Map<string, OperatorDefinition<never, never>>(
  [dedupeOperator, sessionizeOperator, joinIdentityOperator, windowAggregateOperator, filterOperator, mapOperator, validateOperator, maskOperator, routeOperator, triggerOperator, funnelOperator, attributionOperator, scoreOperator, consentOperator].map((op) => [op.name, op as unknown as OperatorDefinition<never, never>]),
);
