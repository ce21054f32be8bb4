// Typed errors the user can act on. Every error carries a one-line message (what went wrong) and a hint
// (what to do). The kernel turns them into cell errors; the CLI prints `message` and `hint` without a stack.

export class LlmnbError extends Error {
  /** What the user can do about it, one sentence. */
  readonly hint: string;
  constructor(message: string, hint = '') {
    super(message);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** Bad arguments: an unknown flag, a value out of range, a malformed id list. */
export class UsageError extends LlmnbError {}

export class NoAdapterError extends LlmnbError {}

export class DeviceLostError extends LlmnbError {}

export class DtypeMismatchError extends LlmnbError {}

export class ShapeMismatchError extends LlmnbError {}

export class ConfigError extends LlmnbError {}

/** A checkpoint file that cannot be read as what it claims to be; names the file and, where known, the offset. */
export class CheckpointFormatError extends LlmnbError {
  constructor(
    readonly file: string,
    detail: string,
    readonly offset?: number,
    hint = 'Re-export the checkpoint, or check that the download/copy finished.',
  ) {
    super(`${file}${offset === undefined ? '' : ` (byte ${offset})`}: ${detail}`, hint);
  }
}

/** Names in a checkpoint that do not match the model: lists what is missing and what is unexpected. */
export class MissingTensorError extends LlmnbError {
  static readonly DEFAULT_HINT = 'Check that the checkpoint belongs to this model, or load with --partial to keep the current values of missing tensors.';

  constructor(
    readonly missing: string[],
    readonly unexpected: string[],
    hint = MissingTensorError.DEFAULT_HINT,
  ) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing ${missing.length}: ${listSome(missing)}`);
    if (unexpected.length) parts.push(`unexpected ${unexpected.length}: ${listSome(unexpected)}`);
    super(`checkpoint does not match the model (${parts.join('; ')})`, hint);
  }
}

/** An allocation that does not fit; `breakdown` (per-layer bytes, with its own heading) follows the hint. */
export class OutOfMemoryError extends LlmnbError {
  constructor(message: string, readonly breakdown: string, hint: string) {
    super(message, breakdown ? `${hint}\n${breakdown}` : hint);
  }
}

/** The user interrupted a long operation; raised at a step boundary with the state consistent. */
export class CancelledError extends LlmnbError {
  constructor(message = 'interrupted') {
    super(message, '');
  }
}

export function listSome(names: string[], max = 8): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown}, ... (${names.length - max} more)` : shown;
}
