// A restricted, non-executing unpickler for the pickle subset that `torch.save` writes (protocols 2 to 5).
// It builds plain values (numbers, strings, lists, tuples, dicts) and hands every operation that would call
// Python code (GLOBAL/STACK_GLOBAL, REDUCE, BUILD, BINPERSID) to a policy, which decides what the call means
// or refuses it. Opcodes that instantiate arbitrary classes (NEWOBJ, INST, OBJ, EXT*) are refused outright.
import { CheckpointFormatError } from '../errors.js';

/** An immutable Python tuple. */
export class PickleTuple {
  constructor(readonly items: readonly PickleValue[]) {}
}

export type DictKey = string | number | boolean | null;

/** A Python dict (or OrderedDict): keys in insertion order. */
export class PickleDict {
  readonly entries = new Map<DictKey, PickleValue>();
}

/** A reference to a Python global that the policy allowed; it means nothing until the policy interprets it. */
export class PickleGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string { return `${this.module}.${this.name}`; }
}

/** Values the policy creates (storages, tensors); opaque to the unpickler. */
export abstract class PolicyValue {}

export type PickleValue = null | boolean | number | bigint | string | Uint8Array | PickleValue[] | PickleTuple | PickleDict
  | PickleGlobal | PolicyValue;

export interface PicklePolicy {
  /** GLOBAL / STACK_GLOBAL: return a reference for an allowed global, or throw. */
  global(module: string, name: string): PickleGlobal;
  /** REDUCE: `callable(*args)`. */
  call(callable: PickleValue, args: PickleTuple): PickleValue;
  /** BUILD: `obj.__setstate__(state)`; returns the object. */
  build(obj: PickleValue, state: PickleValue): PickleValue;
  /** BINPERSID: resolves a persistent id (torch storages). */
  persistentLoad(pid: PickleValue): PickleValue;
}

/** Thrown by a policy to refuse an operation; the unpickler adds the file and byte offset. */
export class PickleRefusal extends Error {
  constructor(message: string, readonly hint?: string) { super(message); }
}

const REFUSED: Record<number, string> = {
  0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX', 0x69: 'INST', 0x6f: 'OBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4',
  0x50: 'PERSID', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

/**
 * Unpickles `data` (the bytes of data.pkl) under `policy`. `file` and `fileOffset` (where data.pkl starts in the
 * file) only serve error messages, which name the opcode and its absolute byte offset.
 */
export function unpickle(data: Uint8Array, policy: PicklePolicy, file: string, fileOffset = 0): PickleValue {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const latin1 = new TextDecoder('latin1');
  const memo = new Map<number, PickleValue>();
  // MARK saves the current stack on the metastack and starts an empty one, as CPython's unpickler does.
  let stack: PickleValue[] = [];
  const metastack: PickleValue[][] = [];
  let pos = 0;
  let opAt = 0;

  const fail = (detail: string, hint?: string) => new CheckpointFormatError(file, `data.pkl: ${detail}`, fileOffset + opAt, hint);
  const need = (n: number) => { if (pos + n > data.length) throw fail('the pickle ends in the middle of an opcode'); };
  const u8 = () => { need(1); return data[pos++]; };
  const u16 = () => { need(2); const v = dv.getUint16(pos, true); pos += 2; return v; };
  const u32 = () => { need(4); const v = dv.getUint32(pos, true); pos += 4; return v; };
  const i32 = () => { need(4); const v = dv.getInt32(pos, true); pos += 4; return v; };
  const u64 = () => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(data.length)) throw fail(`length ${v} exceeds the pickle`);
    return Number(v);
  };
  const bytes = (n: number) => { need(n); const b = data.subarray(pos, pos + n); pos += n; return b; };
  const text = (n: number) => {
    try {
      return utf8.decode(bytes(n));
    } catch {
      throw fail('a string is not valid UTF-8');
    }
  };
  const line = () => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) throw fail('the pickle ends in the middle of a text line');
    const s = latin1.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): PickleValue => {
    if (!stack.length) throw fail('stack underflow (malformed pickle)');
    return stack.pop()!;
  };
  const top = (): PickleValue => {
    if (!stack.length) throw fail('stack underflow (malformed pickle)');
    return stack[stack.length - 1];
  };
  const popMark = (): PickleValue[] => {
    const items = stack;
    const prev = metastack.pop();
    if (!prev) throw fail('no MARK on the stack (malformed pickle)');
    stack = prev;
    return items;
  };
  const getMemo = (i: number) => {
    if (!memo.has(i)) throw fail(`memo slot ${i} is empty (malformed pickle)`);
    return memo.get(i)!;
  };
  const setItem = (d: PickleValue, k: PickleValue, v: PickleValue) => {
    if (!(d instanceof PickleDict)) throw fail('SETITEM on something that is not a dict');
    if (!(k === null || ['string', 'number', 'boolean'].includes(typeof k))) throw fail('a dict key that is not a string, number or bool');
    d.entries.set(k as DictKey, v);
  };
  const append = (l: PickleValue, items: PickleValue[]) => {
    if (!Array.isArray(l)) throw fail('APPEND on something that is not a list');
    l.push(...items);
  };
  const policyCall = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof PickleRefusal) throw fail(e.message, e.hint);
      throw e;
    }
  };
  const int = (v: bigint): number | bigint => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);

  for (;;) {
    opAt = pos;
    const op = u8();
    switch (op) {
      case 0x80: { const proto = u8(); if (proto > 5) throw fail(`pickle protocol ${proto} is newer than 5`); break; } // PROTO
      case 0x95: u64(); break; // FRAME: framing only
      case 0x2e: { // STOP
        const result = pop();
        if (stack.length || metastack.length) throw fail('values left on the stack at STOP (malformed pickle)');
        return result;
      }
      case 0x28: metastack.push(stack); stack = []; break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: stack.push(int(signedLE(bytes(u8())))); break; // LONG1
      case 0x8b: { const n = u32(); if (n > 1024) throw fail(`a ${n}-byte integer`); stack.push(int(signedLE(bytes(n)))); break; } // LONG4
      case 0x47: { need(8); stack.push(dv.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT (big-endian)
      case 0x58: stack.push(text(u32())); break; // BINUNICODE
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text(u64())); break; // BINUNICODE8
      case 0x55: stack.push(latin1.decode(bytes(u8()))); break; // SHORT_BINSTRING
      case 0x54: stack.push(latin1.decode(bytes(u32()))); break; // BINSTRING
      case 0x43: stack.push(bytes(u8()).slice()); break; // SHORT_BINBYTES
      case 0x42: stack.push(bytes(u32()).slice()); break; // BINBYTES
      case 0x8e: stack.push(bytes(u64()).slice()); break; // BINBYTES8
      case 0x29: stack.push(new PickleTuple([])); break; // EMPTY_TUPLE
      case 0x74: { const items = popMark(); stack.push(new PickleTuple(items)); break; } // TUPLE (popMark replaces `stack`)
      case 0x85: stack.push(new PickleTuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(new PickleTuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(new PickleTuple([a, b, c])); break; } // TUPLE3
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: { const items = popMark(); stack.push(items); break; } // LIST
      case 0x61: { const v = pop(); append(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
      case 0x7d: stack.push(new PickleDict()); break; // EMPTY_DICT
      case 0x64: { // DICT
        const items = popMark();
        const d = new PickleDict();
        for (let i = 0; i + 1 < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x73: { const v = pop(); const k = pop(); setItem(top(), k, v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2) throw fail('SETITEMS with an odd number of values');
        const d = top();
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: stack.push(getMemo(u8())); break; // BINGET
      case 0x6a: stack.push(getMemo(u32())); break; // LONG_BINGET
      case 0x63: { const module = line(); const name = line(); stack.push(policyCall(() => policy.global(module, name))); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw fail('STACK_GLOBAL with non-string names');
        stack.push(policyCall(() => policy.global(module, name)));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        if (!(args instanceof PickleTuple)) throw fail('REDUCE without an argument tuple');
        stack.push(policyCall(() => policy.call(callable, args)));
        break;
      }
      case 0x62: { const state = pop(); const obj = pop(); stack.push(policyCall(() => policy.build(obj, state))); break; } // BUILD
      case 0x51: { const pid = pop(); stack.push(policyCall(() => policy.persistentLoad(pid))); break; } // BINPERSID
      default: {
        const name = REFUSED[op];
        if (name) throw fail(`opcode ${name} is not allowed in a checkpoint (it creates arbitrary Python objects)`, REFUSAL_HINT);
        throw fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}`);
      }
    }
  }
}

export const REFUSAL_HINT = 'Do not open this file with torch.load unless you trust its source. If it is yours, save only the weights: '
  + 'torch.save(model.state_dict(), path).';

/** A little-endian two's-complement integer of any length (LONG1/LONG4). */
function signedLE(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b.length && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v;
}
