import type { EventName, Subscription } from './contract.js';
import type { HubEvent } from './event-hub.js';

/**
 * What one connection receives, as a fast predicate over hub events.
 *
 * Events omitted: everything but task.log. task.log only for the runs named in `logs` (or `*`),
 * since log lines are by far the most numerous events and most views show none.
 */
export class SubscriptionFilter {
  private events: Set<EventName> | undefined;
  private logs = new Set<string>();
  private allLogs = false;

  constructor(subscription: Subscription = { events: [] }) {
    this.update(subscription);
  }

  update(subscription: Subscription): void {
    this.events = subscription.events === undefined ? undefined : new Set(subscription.events);
    this.logs = new Set(subscription.logs ?? []);
    this.allLogs = this.logs.has('*');
  }

  matches(event: HubEvent): boolean {
    if (event.event === 'task.log') {
      if (this.events !== undefined && !this.events.has('task.log')) return false;
      return this.allLogs || (event.logRun !== undefined && this.logs.has(event.logRun));
    }
    return this.events === undefined || this.events.has(event.event);
  }
}
