// Uniform parameters for one dispatch, packed as consecutive 4-byte scalars. The WGSL side declares a struct
// with the same fields in the same order, all u32/i32/f32 (no vectors, so no padding rules apply).

export const PARAM_SLOT_BYTES = 256; // minUniformBufferOffsetAlignment on every adapter we know

export class Params {
  private readonly view = new DataView(new ArrayBuffer(PARAM_SLOT_BYTES));
  private n = 0;

  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`u32 param out of range: ${v}`);
    this.view.setUint32(this.next(), v, true);
    return this;
  }

  i32(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new RangeError(`i32 param out of range: ${v}`);
    this.view.setInt32(this.next(), v, true);
    return this;
  }

  f32(v: number): this {
    this.view.setFloat32(this.next(), v, true);
    return this;
  }

  /** The packed bytes (at least 16, a multiple of 16, as uniform structs require). */
  bytes(): Uint8Array<ArrayBuffer> {
    return new Uint8Array(this.view.buffer, 0, Math.max(16, Math.ceil(this.n / 16) * 16));
  }

  private next(): number {
    if (this.n + 4 > PARAM_SLOT_BYTES) throw new RangeError('too many params for one dispatch');
    const at = this.n;
    this.n += 4;
    return at;
  }
}
