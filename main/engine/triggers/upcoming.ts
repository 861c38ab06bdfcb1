import type { OperationDef } from '../model/operation.js';
import { triggerIds, type TriggerSpec } from '../model/trigger-spec.js';
import { describeTrigger } from './describe-trigger.js';
import { fireRule, isTimedTrigger } from './fire-times.js';

/** One upcoming fire time of an operation. */
export interface UpcomingFire {
  at: number;
  triggerId: string;
  kind: TriggerSpec['kind'];
  description: string;
}

/**
 * The next `count` fire times of an operation's timed triggers after `from`, merged and in order.
 *
 * Pure calendar math (croner), so the CLI can answer `next` without a daemon running.
 */
export function upcomingFires(operation: OperationDef, from: number, count: number): UpcomingFire[] {
  const ids = triggerIds(operation.triggers);
  const streams = operation.triggers.flatMap((spec, i) => {
    if (!spec.enabled || !isTimedTrigger(spec)) return [];
    const rule = fireRule(spec);
    return [
      {
        rule,
        at: rule.next(from),
        triggerId: ids[i] ?? spec.kind,
        kind: spec.kind,
        description: rule.describe(),
      },
    ];
  });
  const out: UpcomingFire[] = [];
  while (out.length < count) {
    let best: (typeof streams)[number] | undefined;
    for (const s of streams) if (s.at !== undefined && (best?.at === undefined || s.at < best.at)) best = s;
    if (best?.at === undefined) break;
    out.push({ at: best.at, triggerId: best.triggerId, kind: best.kind, description: best.description });
    best.at = best.rule.next(best.at);
  }
  return out;
}

/** The triggers that do not fire at computed times (conditions, after, watch), described. */
export function eventTriggers(
  operation: OperationDef,
): { triggerId: string; kind: TriggerSpec['kind']; description: string; enabled: boolean }[] {
  const ids = triggerIds(operation.triggers);
  return operation.triggers.flatMap((spec, i) =>
    isTimedTrigger(spec)
      ? []
      : [
          {
            triggerId: ids[i] ?? spec.kind,
            kind: spec.kind,
            description: describeTrigger(spec),
            enabled: spec.enabled,
          },
        ],
  );
}
