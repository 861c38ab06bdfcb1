import type { FunctionName } from './functions.js';

export type BinaryOperator = '+' | '-' | '*' | '/' | '%' | '<' | '<=' | '>' | '>=' | '==' | '!=' | 'in';
export type LogicalOperator = '&&' | '||';
export type UnaryOperator = '!' | '-';

/**
 * A parsed expression. Every node carries `offset`: where it starts, or where its operator sits, in the parsed text.
 *
 * `and`, `or` and `not` parse to the same nodes as `&&`, `||` and `!`.
 */
export type Expression =
  | { readonly kind: 'literal'; readonly value: string | number | boolean | null; readonly offset: number }
  | { readonly kind: 'list'; readonly items: readonly Expression[]; readonly offset: number }
  | { readonly kind: 'identifier'; readonly name: string; readonly offset: number }
  | {
      readonly kind: 'member';
      readonly object: Expression;
      readonly property: string;
      readonly offset: number;
    }
  | {
      readonly kind: 'index';
      readonly object: Expression;
      readonly index: Expression;
      readonly offset: number;
    }
  | {
      readonly kind: 'call';
      readonly name: FunctionName;
      readonly args: readonly Expression[];
      readonly offset: number;
    }
  | {
      readonly kind: 'unary';
      readonly operator: UnaryOperator;
      readonly operand: Expression;
      readonly offset: number;
    }
  | {
      readonly kind: 'binary';
      readonly operator: BinaryOperator;
      readonly left: Expression;
      readonly right: Expression;
      readonly offset: number;
    }
  | {
      readonly kind: 'logical';
      readonly operator: LogicalOperator;
      readonly left: Expression;
      readonly right: Expression;
      readonly offset: number;
    }
  | {
      readonly kind: 'conditional';
      readonly test: Expression;
      readonly consequent: Expression;
      readonly alternate: Expression;
      readonly offset: number;
    };
