// What a `torch.save` pickle may contain, and what it means: the allow-list policy for the restricted
// unpickler. Allowed globals are collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter
// and torch's typed storage classes (only as markers inside persistent ids). Everything else is refused by
// name before anything could run.
import { PickleDict, PickleGlobal, PickleRefusal, PickleTuple, PolicyValue, REFUSAL_HINT,
  type PicklePolicy, type PickleValue } from './unpickle.js';

/** torch storage class -> element dtype (safetensors spelling); only BF16/F16/F32 tensors can be loaded. */
export const STORAGE_DTYPES: Record<string, string> = {
  BFloat16Storage: 'BF16', HalfStorage: 'F16', FloatStorage: 'F32', DoubleStorage: 'F64', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
  ComplexFloatStorage: 'C64', ComplexDoubleStorage: 'C128',
};

/** A storage named by a persistent id: the zip entry `data/<key>` holding `numel` elements. */
export class StorageRef extends PolicyValue {
  constructor(readonly storageType: string, readonly key: string, readonly location: string, readonly numel: number) { super(); }
  get dtype(): string { return STORAGE_DTYPES[this.storageType]; }
}

/** A tensor as `_rebuild_tensor_v2` describes it: a view of a storage (offsets and strides in elements). */
export class TensorRef extends PolicyValue {
  constructor(readonly storage: StorageRef, readonly storageOffset: number, readonly shape: number[], readonly strides: number[]) { super(); }
}

const ALLOWED_CALLABLES = new Set(['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_parameter']);

export class TorchPicklePolicy implements PicklePolicy {
  private readonly storages = new Map<string, StorageRef>();

  global(module: string, name: string): PickleGlobal {
    const qualified = `${module}.${name}`;
    if (ALLOWED_CALLABLES.has(qualified) || (module === 'torch' && name in STORAGE_DTYPES)) return new PickleGlobal(module, name);
    throw new PickleRefusal(`refused to load the Python global '${qualified}': a checkpoint may only hold tensors and plain data, `
      + 'and unpickling this one with torch.load would import or run it', REFUSAL_HINT);
  }

  call(callable: PickleValue, args: PickleTuple): PickleValue {
    if (!(callable instanceof PickleGlobal) || !ALLOWED_CALLABLES.has(callable.qualified)) {
      throw new PickleRefusal(`refused to call ${describe(callable)}: only tensor rebuilding and OrderedDict are allowed`, REFUSAL_HINT);
    }
    const a = args.items;
    switch (callable.name) {
      case 'OrderedDict':
        if (a.length) throw new PickleRefusal('OrderedDict called with arguments');
        return new PickleDict();
      case '_rebuild_tensor_v2': {
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        const [storage, offset, size, stride] = a;
        if (a.length < 6 || !(storage instanceof StorageRef) || !isCount(offset) || !isIntTuple(size) || !isIntTuple(stride)
          || size.items.length !== stride.items.length) {
          throw new PickleRefusal('_rebuild_tensor_v2 called with unexpected arguments');
        }
        return new TensorRef(storage, offset, size.items as number[], stride.items as number[]);
      }
      default: { // _rebuild_parameter(data, requires_grad, backward_hooks): a Parameter is its tensor here
        if (!(a[0] instanceof TensorRef)) throw new PickleRefusal('_rebuild_parameter called without a tensor');
        return a[0];
      }
    }
  }

  build(obj: PickleValue, state: PickleValue): PickleValue {
    // state_dict() OrderedDicts carry `_metadata` (module versions) as instance state: nothing to keep.
    if (obj instanceof PickleDict && state instanceof PickleDict) return obj;
    throw new PickleRefusal(`refused to set the state of ${describe(obj)}`, REFUSAL_HINT);
  }

  persistentLoad(pid: PickleValue): PickleValue {
    // ('storage', storage_type, key, location, numel)
    const p = pid instanceof PickleTuple ? pid.items : [];
    const [tag, type, key, location, numel] = p;
    if (p.length !== 5 || tag !== 'storage' || !(type instanceof PickleGlobal) || type.module !== 'torch'
      || typeof key !== 'string' || typeof location !== 'string' || !isCount(numel)) {
      throw new PickleRefusal('unexpected persistent id (not a torch storage reference)');
    }
    let ref = this.storages.get(key);
    if (!ref) this.storages.set(key, ref = new StorageRef(type.name, key, location, numel));
    else if (ref.storageType !== type.name || ref.numel !== numel) throw new PickleRefusal(`storage ${key} is described twice differently`);
    return ref;
  }
}

function isCount(v: PickleValue): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isIntTuple(v: PickleValue): v is PickleTuple {
  return v instanceof PickleTuple && v.items.every((x) => typeof x === 'number' && Number.isSafeInteger(x));
}

function describe(v: PickleValue): string {
  if (v instanceof PickleGlobal) return `'${v.qualified}'`;
  if (v instanceof PickleDict) return 'a dict';
  if (v instanceof PickleTuple) return 'a tuple';
  if (v instanceof TensorRef) return 'a tensor';
  return typeof v;
}
