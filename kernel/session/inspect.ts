// Hovers: what does `model.layers[0].self_attn.q_proj.weight` hold? The expression is resolved by reading data
// properties only: no calls, no getters, no proxies, so a hover never runs code (and never has side effects).
import { types } from 'node:util';
import { parseExpressionAt, type Expression } from 'acorn';
import { formatBytes } from '../gpu/format.js';
import { dtypeBytes, type TensorDType } from '../gpu/tensor.js';
import type { InspectResult } from '../protocol.js';

const NOT_FOUND = Symbol('not found');

/** Describes what `expression` names in `scope` (the cells' global object), or null if it names nothing safely readable. */
export function inspectExpression(scope: object, expression: string): InspectResult | null {
  let ast: Expression;
  try {
    ast = parseExpressionAt(expression, 0, { ecmaVersion: 'latest' });
  } catch {
    return null;
  }
  if (ast.end !== expression.trimEnd().length) return null;
  const value = resolve(scope, ast);
  if (value === NOT_FOUND) return null;
  return describe(expression, value);
}

function resolve(scope: object, node: Expression): unknown {
  if (node.type === 'Identifier') return readData(scope, node.name);
  if (node.type !== 'MemberExpression' || node.object.type === 'Super') return NOT_FOUND;
  const object = resolve(scope, node.object as Expression);
  if (object === NOT_FOUND || object === null || (typeof object !== 'object' && typeof object !== 'function')) return NOT_FOUND;
  let key: string;
  if (!node.computed && node.property.type === 'Identifier') key = node.property.name;
  else if (node.computed && node.property.type === 'Literal' && (typeof node.property.value === 'string' || typeof node.property.value === 'number')) key = String(node.property.value);
  else return NOT_FOUND;
  return readData(object, key);
}

/** The value of a data property found on `obj` or its prototypes; NOT_FOUND for accessors and proxies. */
function readData(obj: object, key: string): unknown {
  for (let o: object | null = obj; o; o = Object.getPrototypeOf(o)) {
    if (types.isProxy(o)) return NOT_FOUND;
    const d = Object.getOwnPropertyDescriptor(o, key);
    if (d) return 'value' in d ? d.value : NOT_FOUND;
  }
  return NOT_FOUND;
}

interface TensorLike { shape: readonly number[]; dtype: TensorDType }

function isTensorLike(v: unknown): v is TensorLike {
  if (v === null || typeof v !== 'object') return false;
  const shape = readData(v, 'shape');
  const dtype = readData(v, 'dtype');
  return Array.isArray(shape) && shape.every((n) => Number.isInteger(n)) && (dtype === 'f32' || dtype === 'bf16' || dtype === 'u32');
}

function describe(expression: string, v: unknown): InspectResult {
  if (isTensorLike(v)) {
    const shape = [...v.shape];
    const bytes = shape.reduce((a, b) => a * b, 1) * dtypeBytes(v.dtype);
    return {
      expression, type: 'Tensor',
      text: [`dtype ${v.dtype}`, `shape [${shape.join(', ')}]`, `bytes ${bytes} (${formatBytes(bytes)})`].join('\n'),
      tensor: { dtype: v.dtype, shape, bytes },
    };
  }
  if (v === null || typeof v !== 'object' && typeof v !== 'function') {
    const shown = typeof v === 'string' ? JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}...` : v) : String(v);
    return { expression, type: v === null ? 'null' : typeof v, text: shown };
  }
  if (typeof v === 'function') return { expression, type: 'function', text: `function ${v.name || '(anonymous)'}` };
  if (Array.isArray(v)) return { expression, type: `Array(${v.length})`, text: `array of ${v.length} items` };
  const ctor = readData(Object.getPrototypeOf(v) ?? {}, 'constructor');
  const type = typeof ctor === 'function' && ctor.name ? ctor.name : 'Object';
  return { expression, type, text: `${type} with ${Object.keys(v).length} properties` };
}
