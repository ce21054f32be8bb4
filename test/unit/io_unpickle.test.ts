// The restricted unpickler on hand-assembled pickles: plain data decodes like Python's pickle would, and
// everything that could run code is refused before anything else happens.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CheckpointFormatError } from '../../kernel/errors.js';
import { StorageRef, TensorRef, TorchPicklePolicy } from '../../kernel/io/torch_pickle.js';
import { PickleDict, PickleTuple, unpickle, type PickleValue } from '../../kernel/io/unpickle.js';

/** Opcode bytes, ints as single bytes, strings as BINUNICODE, `g('mod', 'name')` as GLOBAL. */
type Part = number | string | Uint8Array;
function pickle(...parts: Part[]): Uint8Array {
  const out: number[] = [0x80, 2];
  for (const p of parts) {
    if (typeof p === 'number') out.push(p);
    else if (typeof p === 'string') {
      const b = Buffer.from(p, 'utf8');
      out.push(0x58, b.length & 0xff, (b.length >> 8) & 0xff, 0, 0, ...b);
    } else out.push(...p);
  }
  out.push(0x2e);
  return new Uint8Array(out);
}
const g = (module: string, name: string) => new Uint8Array([0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1')]);
const bytes = (...b: number[]) => new Uint8Array(b);
const run = (data: Uint8Array) => unpickle(data, new TorchPicklePolicy(), 'test.pth', 1000);

const OP = { MARK: 0x28, EMPTY_DICT: 0x7d, EMPTY_LIST: 0x5d, EMPTY_TUPLE: 0x29, SETITEMS: 0x75, SETITEM: 0x73, APPENDS: 0x65,
  TUPLE: 0x74, TUPLE2: 0x86, REDUCE: 0x52, BUILD: 0x62, NONE: 0x4e, TRUE: 0x88, FALSE: 0x89, BINPUT: 0x71, BINGET: 0x68,
  BINPERSID: 0x51, BININT1: 0x4b, NEWOBJ: 0x81, MEMOIZE: 0x94, STACK_GLOBAL: 0x93, SHORT_BINUNICODE: 0x8c } as const;

test('plain data: dicts, lists, tuples, ints of every width, floats, None/bools, memo references', () => {
  const v = run(pickle(
    OP.EMPTY_DICT, OP.MARK,
    'ints', OP.EMPTY_LIST, OP.BINPUT, 1, OP.MARK,
    bytes(0x4b, 200), bytes(0x4d, 0x34, 0x12), bytes(0x4a, 0xff, 0xff, 0xff, 0xff),
    bytes(0x8a, 5, 0, 0, 0, 0, 1), bytes(0x8a, 1, 0xfe), bytes(0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0), OP.APPENDS,
    'float', bytes(0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0),
    'misc', OP.MARK, OP.NONE, OP.TRUE, OP.FALSE, OP.TUPLE,
    'same list', OP.BINGET, 1,
    OP.SETITEMS,
  ));
  assert.ok(v instanceof PickleDict);
  const ints = v.entries.get('ints') as PickleValue[];
  assert.deepEqual(ints, [200, 0x1234, -1, 2 ** 32, -2, 2n ** 63n]);
  assert.equal(v.entries.get('float'), 1.5);
  assert.deepEqual((v.entries.get('misc') as PickleTuple).items, [null, true, false]);
  assert.equal(v.entries.get('same list'), ints, 'BINGET returns the memoized object itself');
});

test('protocol 4 opcodes: SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL with an allowed global', () => {
  const short = (s: string) => bytes(OP.SHORT_BINUNICODE, s.length, ...Buffer.from(s));
  const v = run(pickle(short('collections'), OP.MEMOIZE, short('OrderedDict'), OP.MEMOIZE, OP.STACK_GLOBAL, OP.EMPTY_TUPLE, OP.REDUCE,
    short('k'), OP.BINGET, 0, OP.SETITEM));
  assert.ok(v instanceof PickleDict);
  assert.equal(v.entries.get('k'), 'collections');
});

function refuses(data: Uint8Array, ...parts: string[]): void {
  assert.throws(() => run(data), (e: unknown) => {
    assert.ok(e instanceof CheckpointFormatError, String(e));
    assert.ok(e.message.startsWith('test.pth (byte 10'), e.message);
    for (const p of parts) assert.ok(e.message.includes(p), `${e.message} lacks ${p}`);
    return true;
  });
}

test('globals other than OrderedDict, tensor rebuilding and storage types are refused by name', () => {
  refuses(pickle(g('builtins', 'eval'), 'print(1)', 0x85, OP.REDUCE), "'builtins.eval'");
  refuses(pickle(g('os', 'system'), 'id', 0x85, OP.REDUCE), "'os.system'");
  refuses(pickle(g('__main__', 'Llama3Model'), OP.EMPTY_TUPLE, OP.NEWOBJ), "'__main__.Llama3Model'");
  refuses(pickle(g('torch', 'load'), OP.EMPTY_TUPLE, OP.REDUCE), "'torch.load'");
  refuses(pickle(g('torch._utils', '_rebuild_tensor'), OP.EMPTY_TUPLE, OP.REDUCE), "'torch._utils._rebuild_tensor'");
});

test('opcodes that create objects, calls of non-callables and bad BUILD/persistent ids are refused', () => {
  refuses(pickle(OP.EMPTY_DICT, OP.EMPTY_TUPLE, OP.NEWOBJ), 'NEWOBJ');
  refuses(pickle(bytes(0x69), 'x'), 'INST');
  refuses(pickle(g('torch', 'FloatStorage'), OP.EMPTY_TUPLE, OP.REDUCE), "'torch.FloatStorage'");
  refuses(pickle(g('collections', 'OrderedDict'), OP.MARK, 'a', OP.TUPLE, OP.REDUCE), 'OrderedDict called with arguments');
  refuses(pickle('x', OP.EMPTY_DICT, OP.BUILD), 'refused to set the state');
  refuses(pickle(OP.MARK, 'storage', 'no type', '0', 'cpu', bytes(OP.BININT1, 4), OP.TUPLE, OP.BINPERSID), 'persistent id');
  refuses(pickle(g('torch._utils', '_rebuild_tensor_v2'), OP.MARK, 'not a storage', bytes(OP.BININT1, 0), OP.EMPTY_TUPLE,
    OP.EMPTY_TUPLE, OP.FALSE, OP.NONE, OP.TUPLE, OP.REDUCE), '_rebuild_tensor_v2');
});

test('malformed pickles: truncated, stack underflow, leftover values, unknown opcode', () => {
  const ok = pickle(OP.EMPTY_DICT);
  refuses(ok.subarray(0, ok.length - 1), 'ends');
  refuses(pickle('abc').subarray(0, 6), 'ends');
  refuses(pickle(OP.SETITEM), 'underflow');
  refuses(pickle(OP.NONE, OP.NONE), 'left on the stack');
  refuses(pickle(0xff), '0xff');
  refuses(pickle(OP.BINGET, 7), 'memo slot 7');
});

test('torch storages and tensors: persistent ids resolve to one storage per key, _rebuild_tensor_v2 to a view', () => {
  const storage = [OP.MARK, 'storage', g('torch', 'BFloat16Storage'), '0', 'cpu', bytes(OP.BININT1, 12), OP.TUPLE, OP.BINPERSID];
  const tensor = (offset: number) => [g('torch._utils', '_rebuild_tensor_v2'), OP.MARK, ...storage, bytes(OP.BININT1, offset),
    bytes(OP.BININT1, 2), bytes(OP.BININT1, 3), OP.TUPLE2, bytes(OP.BININT1, 3), bytes(OP.BININT1, 1), OP.TUPLE2, OP.FALSE,
    g('collections', 'OrderedDict'), OP.EMPTY_TUPLE, OP.REDUCE, OP.TUPLE, OP.REDUCE];
  const v = run(pickle(OP.EMPTY_DICT, OP.MARK, 'a', ...tensor(0), 'b', ...tensor(6), OP.SETITEMS));
  assert.ok(v instanceof PickleDict);
  const a = v.entries.get('a') as TensorRef;
  const b = v.entries.get('b') as TensorRef;
  assert.ok(a instanceof TensorRef && b instanceof TensorRef);
  assert.ok(a.storage instanceof StorageRef);
  assert.equal(a.storage, b.storage);
  assert.deepEqual([a.storage.dtype, a.storage.key, a.storage.numel], ['BF16', '0', 12]);
  assert.deepEqual([b.storageOffset, b.shape, b.strides], [6, [2, 3], [3, 1]]);
});
