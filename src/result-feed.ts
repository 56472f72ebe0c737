// Where each attempt's result goes: state records it first (it decides the check's thresholded
// status and whether that changed), then every subscriber hears it, in the order registered.
// Whatever follows results (metrics, the transition log, history, heartbeats) is a subscriber.
import type { CheckResult } from './check.js';
import type { CheckConfig } from './config/types.js';
import type { Transition } from './state.js';

export interface ResultSubscriber {
  /**
   * One attempt's result, once state has recorded it: the check's thresholded status already
   * counts it. `transition` is set when this result changed that status. Called on every attempt:
   * allocate nothing on the way that most results take.
   */
  onResult(check: CheckConfig, result: CheckResult, transition: Transition | undefined): void;
}

/** Records a result in state and says whether it changed the check's status. */
export type RecordResult = (check: CheckConfig, result: CheckResult) => Transition | undefined;

export interface ResultFeed {
  /** Records the result, then hands it to each subscriber; a subscriber that throws stops the rest (the caller logs it). */
  publish(check: CheckConfig, result: CheckResult): void;
}

export function createResultFeed(record: RecordResult, subscribers: readonly ResultSubscriber[]): ResultFeed {
  const list = [...subscribers];
  return {
    publish(check, result) {
      const transition = record(check, result);
      // An indexed loop: a for-of over the list may allocate an iterator on every attempt.
      for (let i = 0; i < list.length; i++) list[i]!.onResult(check, result, transition);
    },
  };
}
