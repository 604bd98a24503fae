/**
 * JSON-lines file sink: one SinkRecord per line (UTF-8, LF). Before a line would take the file
 * past `maxBytes` the file is rotated like logrotate: `path.<keep>` is deleted, `path.<i>` becomes
 * `path.<i+1>`, `path` becomes `path.1`, and a new `path` is started. A line is never split, so
 * every line of every file is a complete JSON document (a single line longer than `maxBytes` gets
 * a file of its own).
 */
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { QueuedSink, type QueueOptions, type SinkBatch, type SinkTransport } from './sink.js';

export interface FileSinkOptions {
  path: string;
  /** Rotate before the file would exceed this size. */
  maxBytes: number;
  /** Rotated files kept (`path.1` … `path.<keep>`); older ones are deleted. */
  keep: number;
}

export class FileTransport implements SinkTransport {
  readonly #o: FileSinkOptions;
  #fh: FileHandle | undefined;
  #size = 0;

  constructor(o: FileSinkOptions) {
    if (!Number.isSafeInteger(o.maxBytes) || o.maxBytes < 1 || !Number.isSafeInteger(o.keep) || o.keep < 0) {
      throw new RangeError('file sink maxBytes must be a positive integer and keep a non-negative integer');
    }
    this.#o = o;
  }

  async send(batch: SinkBatch): Promise<void> {
    const lines = batch.records.map((r) => Buffer.from(`${JSON.stringify(r)}\n`, 'utf8'));
    let chunk: Buffer[] = [];
    let chunkBytes = 0;
    for (const line of lines) {
      const fh = await this.#handle();
      if (this.#size + chunkBytes > 0 && this.#size + chunkBytes + line.length > this.#o.maxBytes) {
        await this.#write(fh, chunk, chunkBytes);
        chunk = [];
        chunkBytes = 0;
        if (this.#size > 0) await this.#rotate();
      }
      chunk.push(line);
      chunkBytes += line.length;
    }
    if (chunkBytes > 0) await this.#write(await this.#handle(), chunk, chunkBytes);
  }

  async close(): Promise<void> {
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close();
  }

  /** Opens `path` for appending (continuing a file left by an earlier run) on first use or after a rotation or error. */
  async #handle(): Promise<FileHandle> {
    if (this.#fh === undefined) {
      // The directory is created on first use (mode 0750: audit copies are not for everyone).
      await mkdir(dirname(this.#o.path), { recursive: true, mode: 0o750 });
      const fh = await open(this.#o.path, 'a', 0o640);
      this.#size = (await fh.stat()).size;
      this.#fh = fh;
    }
    return this.#fh;
  }

  async #write(fh: FileHandle, chunk: Buffer[], bytes: number): Promise<void> {
    if (bytes === 0) return;
    try {
      await fh.writev(chunk);
    } catch (e) {
      // Reopen on the retry: the size we knew may no longer be right.
      await this.close().catch(() => {});
      throw e;
    }
    this.#size += bytes;
  }

  async #rotate(): Promise<void> {
    await this.close();
    const { path, keep } = this.#o;
    if (keep === 0) {
      await rm(path, { force: true });
      return;
    }
    await rm(`${path}.${keep}`, { force: true });
    for (let i = keep - 1; i >= 1; i--) {
      if (await exists(`${path}.${i}`)) await rename(`${path}.${i}`, `${path}.${i + 1}`);
    }
    await rename(path, `${path}.1`);
  }
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

export function fileSink(o: FileSinkOptions, queue: QueueOptions = {}): QueuedSink {
  return new QueuedSink('file', new FileTransport(o), queue);
}
