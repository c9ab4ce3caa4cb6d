/**
 * The output records of `funnel`: one per attempt ({@link funnelRecord}), and with
 * `emit: update` one each time an attempt advances.
 */
import type { DerivedRecord } from '../../lib/operator/contract.js';
import { deriveId } from '../../lib/operator/ids.js';
import type { Attempt } from './attempt.js';
import type { FunnelConfig } from './options.js';
import type { BufferedEvent } from './state.js';

/** A step an attempt reached: its name, and the time and messageId of the event that reached it. */
export interface ReachedStep {
  name: string;
  at: number;
  messageId: string;
}

/** A record of the funnel output. */
export interface FunnelRecord extends DerivedRecord {
  /** `deriveId('funnel', step, key, startedAt)`; an update: `deriveId('funnel', step, key, startedAt, 'update', furthestStep)`. */
  id: string;
  key: string;
  /** The funnel's step name in the pipeline. */
  funnel: string;
  /** Time of the event that reached step 1. */
  startedAt: number;
  /** The steps reached, in order. */
  steps: ReachedStep[];
  /** 1-based index of the last step reached. */
  furthestStep: number;
  furthestStepName: string;
  converted: boolean;
  /** The name of the last step reached when the attempt closed without converting; null when converted or still open. */
  droppedAfter: string | null;
  /** Milliseconds between consecutive reached steps (one fewer than `steps`). */
  stepDurationsMs: number[];
  /** Last reached step's time − startedAt. */
  totalMs: number;
  /** False for an update of an open attempt. */
  final: boolean;
}

/** The record of `attempt` over the key's sorted `events`: final when it closed, else an update. */
export function funnelRecord(step: string, config: FunnelConfig, key: string, events: readonly BufferedEvent[], attempt: Attempt, final: boolean): FunnelRecord {
  const steps = attempt.reached.map((index, i): ReachedStep => {
    const e = events[index] as BufferedEvent;
    return { name: (config.steps[i] as { name: string }).name, at: e[0], messageId: e[1] };
  });
  const first = steps[0] as ReachedStep;
  const last = steps[steps.length - 1] as ReachedStep;
  const stepDurationsMs: number[] = [];
  for (let i = 1; i < steps.length; i++) stepDurationsMs.push((steps[i] as ReachedStep).at - (steps[i - 1] as ReachedStep).at);
  return {
    id: final ? deriveId('funnel', step, key, first.at) : deriveId('funnel', step, key, first.at, 'update', steps.length),
    key,
    funnel: step,
    startedAt: first.at,
    steps,
    furthestStep: steps.length,
    furthestStepName: last.name,
    converted: attempt.converted,
    droppedAfter: final && !attempt.converted ? last.name : null,
    stepDurationsMs,
    totalMs: last.at - first.at,
    final,
  };
}
