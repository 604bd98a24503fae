/**
 * Secret key material as a type (ARCHITECTURE rule 4).
 * - MUST be disposed when no longer needed: dispose() overwrites the bytes with zeros.
 * - MUST NOT serialize: toJSON() and toString() throw / redact, util.inspect shows no bytes.
 */
const inspect = Symbol.for('nodejs.util.inspect.custom');

export class SecretBytes {
  #bytes: Buffer | undefined;

  private constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  /** Takes ownership of `bytes` (the caller must not keep or reuse the buffer). */
  static adopt(bytes: Buffer): SecretBytes {
    return new SecretBytes(bytes);
  }

  /** Copies `bytes` into memory owned by the SecretBytes. */
  static copyOf(bytes: Uint8Array): SecretBytes {
    return new SecretBytes(Buffer.from(bytes));
  }

  get length(): number {
    return this.expose().length;
  }

  get disposed(): boolean {
    return this.#bytes === undefined;
  }

  /** The raw bytes, for primitives only. Throws once disposed. */
  expose(): Buffer {
    if (this.#bytes === undefined) throw new Error('SecretBytes used after dispose()');
    return this.#bytes;
  }

  dispose(): void {
    if (this.#bytes !== undefined) {
      this.#bytes.fill(0);
      this.#bytes = undefined;
    }
  }

  toJSON(): never {
    throw new Error('SecretBytes must never be serialized');
  }

  toString(): string {
    return '[SecretBytes]';
  }

  [inspect](): string {
    return this.disposed ? '[SecretBytes disposed]' : `[SecretBytes ${this.length} bytes]`;
  }
}

/** Overwrites a plain buffer holding secret data. */
export function zeroize(...buffers: Array<Buffer | Uint8Array | undefined>): void {
  for (const b of buffers) b?.fill(0);
}
