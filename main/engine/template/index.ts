export type { BinaryOperator, Expression, LogicalOperator, UnaryOperator } from './ast.js';
export { evaluateExpression, type EvaluateOptions, type Scope } from './evaluator.js';
export { ExpressionError, type ExpressionErrorDetails } from './expression-error.js';
export { parseExpression } from './parser.js';
export { expressionReferences } from './references.js';
export { shellQuote, shellQuoter, shellTemplateProblem, type Quoter } from './shell-quote.js';
export {
  parseTemplate,
  renderDeep,
  renderString,
  renderTemplate,
  templateReferences,
  type RenderOptions,
  type TemplatePart,
} from './template.js';
export { isTruthy, stringifyValue } from './values.js';
