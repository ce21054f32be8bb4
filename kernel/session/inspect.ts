// Hovers: what does `model.layers[0].self_attn.q_proj.weight` hold? The expression is resolved by reading data
// properties only: no calls, no getters, no proxies, so a hover never runs code (and never has side effects).
// Model parameters and GPU tensors are recognised by their kernel class (a prototype walk that refuses proxies)
// and described from their plain fields: the same facts as Parameter.info(), without calling anything.
import { types } from 'node:util';
import { parseExpressionAt, type Expression } from 'acorn';
import { globMatcher } from '../api/tensors.js';
import { MEMORY_KINDS, type MemoryKind } from '../gpu/allocator.js';
import { formatBytes } from '../gpu/format.js';
import { Tensor, dtypeBytes, numelOf, type TensorDType } from '../gpu/tensor.js';
import { canonicalName, fromScratchName } from '../io/names.js';
import { LlamaModel } from '../model/llama.js';
import { Parameter } from '../model/parameter.js';
import type { InspectResult, ParameterSummary, TensorFacts } from '../protocol.js';

const NOT_FOUND = Symbol('not found');
/** Objects visited when summing the parameters under an object (the model of a 400-layer net has ~4000). */
const MAX_VISITS = 20_000;

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

/**
 * Describes the parameters of the bound `model` that `name` names: an HF or LLMs-from-scratch name
 * (`model.norm.weight`, `trf_blocks.0.att.W_query.weight`) or a glob (`model.layers.0.*`). Null when no model is
 * bound or nothing matches.
 */
export function inspectTensorName(scope: object, name: string): InspectResult | null {
  const model = readData(scope, 'model');
  if (!isInstance(model, LlamaModel.prototype)) return null;
  const params = parametersUnder(model as LlamaModel);
  let matches: Parameter[];
  if (/[*?]/.test(name)) {
    const match = globMatcher(name);
    matches = params.filter((p) => match(p.name) || match(fromScratchName(p.name) ?? ''));
  } else {
    const canonical = canonicalName(name);
    matches = params.filter((p) => p.name === name || p.name === canonical);
  }
  if (matches.length === 0) return null;
  if (matches.length === 1 && !/[*?]/.test(name)) return describe(name, matches[0]);
  const summary = summarize(matches);
  return { expression: name, type: 'parameters', text: summaryText(summary), parameters: summary };
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

/** `v instanceof C` for C.prototype === proto, walking the chain without entering a proxy (no traps run). */
function isInstance(v: unknown, proto: object): boolean {
  if (v === null || typeof v !== 'object') return false;
  for (let o: object | null = v; o; o = Object.getPrototypeOf(o)) {
    if (types.isProxy(o)) return false;
    if (o === proto) return true;
  }
  return false;
}

function isObject(v: unknown): v is object {
  return v !== null && typeof v === 'object';
}

/** A plain object or array (of any realm: cells build theirs in the vm context), never a proxy. */
function isContainer(v: unknown): v is object {
  if (v === null || typeof v !== 'object' || types.isProxy(v)) return false;
  if (Array.isArray(v)) return true;
  const proto = Object.getPrototypeOf(v) as object | null;
  return proto === null || (!types.isProxy(proto) && Object.getPrototypeOf(proto) === null);
}

function shapeOf(v: object): number[] | null {
  const shape = readData(v, 'shape');
  if (!Array.isArray(shape) || types.isProxy(shape) || !shape.every((n) => Number.isInteger(n) && n >= 0)) return null;
  return [...(shape as number[])];
}

function isDtype(d: unknown): d is TensorDType {
  return d === 'f32' || d === 'bf16' || d === 'u32';
}

/** A parameter's facts from its fields; equal to `p.info()` (tested), read without calling its methods. */
export function parameterFacts(p: Parameter): TensorFacts | null {
  const shape = shapeOf(p);
  const dtype = readData(p, 'dtype');
  const name = readData(p, 'name');
  const layer = readData(p, 'layer');
  const trainable = readData(p, 'trainable');
  const storage = readData(p, 'storage');
  if (!shape || !isDtype(dtype) || typeof name !== 'string' || typeof layer !== 'string' || typeof trainable !== 'boolean' || storage === NOT_FOUND) return null;
  return { dtype, shape, bytes: numelOf(shape) * dtypeBytes(dtype), name, layer, kind: 'weights', trainable, resident: storage !== null };
}

function tensorFacts(t: Tensor): TensorFacts | null {
  const shape = shapeOf(t);
  const dtype = readData(t, 'dtype');
  if (!shape || !isDtype(dtype)) return null;
  const facts: TensorFacts = { dtype, shape, bytes: numelOf(shape) * dtypeBytes(dtype) };
  const parts = readData(t, 'parts');
  // The allocator's tag of the first buffer: parts[0].buf.tag = { layer, tensor, kind }.
  const part = Array.isArray(parts) ? readData(parts, '0') : NOT_FOUND;
  const buf = isObject(part) ? readData(part, 'buf') : NOT_FOUND;
  const tag = isObject(buf) ? readData(buf, 'tag') : NOT_FOUND;
  if (isObject(tag)) {
    const [tensor, layer, kind] = [readData(tag, 'tensor'), readData(tag, 'layer'), readData(tag, 'kind')];
    if (typeof tensor === 'string') facts.name = tensor;
    if (typeof layer === 'string') facts.layer = layer;
    if (typeof kind === 'string' && (MEMORY_KINDS as readonly string[]).includes(kind)) facts.kind = kind as MemoryKind;
  }
  const base = readData(t, 'base');
  const disposed = readData(t, 'disposed') === true || (isInstance(base, Tensor.prototype) && readData(base as object, 'disposed') === true);
  facts.resident = !disposed;
  return facts;
}

/** Every Parameter reachable from `root` through data properties of plain objects and arrays (each once). */
function parametersUnder(root: object): Parameter[] {
  const found = new Set<Parameter>();
  const seen = new Set<object>();
  const stack: object[] = [root];
  while (stack.length && seen.size < MAX_VISITS) {
    const o = stack.pop()!;
    if (seen.has(o)) continue;
    seen.add(o);
    for (const key of Object.keys(o)) {
      const v = readData(o, key);
      if (isInstance(v, Parameter.prototype)) found.add(v as Parameter);
      else if (isContainer(v)) stack.push(v);
    }
  }
  return [...found];
}

function summarize(params: Parameter[]): ParameterSummary {
  const facts = params.map(parameterFacts).filter((f): f is TensorFacts => f !== null);
  return {
    count: facts.length,
    bytes: facts.reduce((s, f) => s + f.bytes, 0),
    residentBytes: facts.reduce((s, f) => s + (f.resident ? f.bytes : 0), 0),
    trainable: facts.filter((f) => f.trainable).length,
    dtypes: [...new Set(facts.map((f) => f.dtype))],
  };
}

function factsText(f: TensorFacts): string {
  const lines = [`dtype ${f.dtype}`, `shape [${f.shape.join(', ')}]`, `bytes ${f.bytes} (${formatBytes(f.bytes)})`];
  if (f.kind) lines.push(`kind ${f.kind}${f.layer ? ` (${f.layer})` : ''}`);
  if (f.trainable !== undefined) lines.push(f.trainable ? 'trainable' : 'frozen');
  if (f.resident !== undefined) lines.push(f.resident ? 'resident on the GPU' : 'not on the GPU');
  return lines.join('\n');
}

function summaryText(s: ParameterSummary): string {
  return [`${s.count} parameters (${s.dtypes.join(', ')})`, `bytes ${s.bytes} (${formatBytes(s.bytes)})`,
    `resident on the GPU ${s.residentBytes} bytes`, `trainable ${s.trainable} of ${s.count}`].join('\n');
}

function describe(expression: string, v: unknown): InspectResult {
  if (isInstance(v, Parameter.prototype)) {
    const facts = parameterFacts(v as Parameter);
    if (facts) return { expression, type: 'Parameter', text: `${facts.name}\n${factsText(facts)}`, tensor: facts };
  }
  if (isInstance(v, Tensor.prototype)) {
    const facts = tensorFacts(v as Tensor);
    if (facts) return { expression, type: 'Tensor', text: factsText(facts), tensor: facts };
  }
  if (v !== null && typeof v === 'object' && !types.isProxy(v)) {
    const shape = shapeOf(v);
    const dtype = readData(v, 'dtype');
    if (shape && isDtype(dtype)) {
      const facts: TensorFacts = { dtype, shape, bytes: numelOf(shape) * dtypeBytes(dtype) };
      return { expression, type: 'Tensor', text: factsText(facts), tensor: facts };
    }
  }
  if (v === null || typeof v !== 'object' && typeof v !== 'function') {
    const shown = typeof v === 'string' ? JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}...` : v) : String(v);
    return { expression, type: v === null ? 'null' : typeof v, text: shown };
  }
  if (typeof v === 'function') return { expression, type: 'function', text: `function ${v.name || '(anonymous)'}` };
  if (types.isProxy(v)) return { expression, type: 'Proxy', text: 'a proxy (not inspected)' };
  const ctor = readData(Object.getPrototypeOf(v) ?? {}, 'constructor');
  const type = Array.isArray(v) ? `Array(${v.length})` : typeof ctor === 'function' && ctor.name ? ctor.name : 'Object';
  const params = isInstance(v, LlamaModel.prototype) || isContainer(v) ? parametersUnder(v) : [];
  if (params.length) {
    const summary = summarize(params);
    return { expression, type, text: summaryText(summary), parameters: summary };
  }
  if (Array.isArray(v)) return { expression, type, text: `array of ${v.length} items` };
  return { expression, type, text: `${type} with ${Object.keys(v).length} properties` };
}
