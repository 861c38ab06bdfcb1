import type { TaskKind } from './task-kind.js';

/** `state:` — set, merge or delete a value in global or node state. */
export const stateTask: TaskKind<'state'> = {
  kind: 'state',
  async run(ctx) {
    const { spec } = ctx;
    const doc = spec.scope === 'global' ? ctx.state.global : ctx.state.node;
    const value = spec.value === undefined ? undefined : ctx.renderDeep(spec.value);
    if (spec.set !== undefined) {
      const path = ctx.renderString(spec.set);
      await doc.set(path, value);
      ctx.log.note(`set ${spec.scope}.${path} = ${JSON.stringify(value)}`);
      return { output: { scope: spec.scope, op: 'set', path, value } };
    }
    if (spec.merge !== undefined) {
      const path = ctx.renderString(spec.merge);
      await doc.merge(path, value);
      ctx.log.note(`merged into ${spec.scope}.${path}: ${JSON.stringify(value)}`);
      return { output: { scope: spec.scope, op: 'merge', path, value: doc.get(path) } };
    }
    if (spec.delete !== undefined) {
      const path = ctx.renderString(spec.delete);
      await doc.delete(path);
      ctx.log.note(`deleted ${spec.scope}.${path}`);
      return { output: { scope: spec.scope, op: 'delete', path } };
    }
    throw new Error('state task needs one of set, merge or delete');
  },
};
