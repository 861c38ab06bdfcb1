import type { ConditionCheck, TriggerSpec } from '../model/trigger-spec.js';
import { fireRule, formatInterval, isTimedTrigger } from './fire-times.js';

function describeCheck(check: ConditionCheck): string {
  switch (check.check) {
    case 'disk':
      return `free space at ${check.path} < ${formatBytes(check.below)}`;
    case 'cpu':
      return `CPU > ${check.above}%`;
    case 'memory':
      return `memory used > ${check.above}%`;
    case 'load':
      return `load > ${check.above}`;
    case 'file':
      return `${check.path} ${check.state}`;
    case 'http':
      return `GET ${check.url}${check.status === undefined ? '' : ` is ${check.status}`}${check.expect === undefined ? '' : ` and ${check.expect}`}`;
    case 'state':
      return `state: ${check.expect}`;
    case 'shell':
      return `\`${typeof check.command === 'string' ? check.command : check.command.join(' ')}\` exits ${check.exitCode}`;
    default:
      return check satisfies never;
  }
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit] ?? 'B'}`;
}

/** One line that says when a trigger fires, for `ops list`, `next` and `serve`. */
export function describeTrigger(spec: TriggerSpec): string {
  if (isTimedTrigger(spec)) return fireRule(spec).describe();
  switch (spec.kind) {
    case 'condition':
      return `when ${describeCheck(spec.condition)} (checked every ${formatInterval(spec.every)}, ${spec.mode}${spec.cooldown === undefined ? '' : `, cooldown ${formatInterval(spec.cooldown)}`})`;
    case 'after':
      return `after ${spec.after.operation}${spec.after.task === undefined ? '' : ` task ${spec.after.task}`} ends (${spec.after.status})`;
    case 'watch':
      return `on changes to ${spec.watch.paths.join(', ')} (debounce ${formatInterval(spec.watch.debounce)})`;
    default:
      return spec satisfies never;
  }
}
