/**
 * Syslog sink: RFC 5424 messages over TCP with octet-counting framing (RFC 6587 §3.4.1:
 * `MSG-LEN SP SYSLOG-MSG`) or over UDP (RFC 5426: one message per datagram).
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [keywarden@32473 ...] BOM{json record}
 *
 * TIMESTAMP is the event's (or checkpoint's) own time, so a message says when the operation
 * happened, not when it was delivered. MSGID is `audit-event` or `audit-checkpoint`. The
 * structured data repeat the fields a SIEM indexes (index, correlation id, operation, outcome; or
 * the checkpoint's size and root); the MSG is the whole SinkRecord as JSON (UTF-8, with the BOM
 * RFC 5424 §6.4 requires). 32473 is the private enterprise number reserved for documentation
 * (RFC 5612).
 *
 * Delivery: over TCP a batch counts as sent once the kernel accepted it — syslog has no
 * acknowledgement — and a broken connection is reopened on the retry. UDP is fire-and-forget.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { QueuedSink, type QueueOptions, type SinkBatch, type SinkRecord, type SinkTransport } from './sink.js';

export const SYSLOG_FACILITIES = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  ntp: 12, audit: 13, alert: 14, clock: 15, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
} as const;
export type SyslogFacility = keyof typeof SYSLOG_FACILITIES;

export interface SyslogSinkOptions {
  host: string;
  port: number;
  protocol: 'tcp' | 'udp';
  /** APP-NAME (default `keywarden`). */
  appName?: string;
  /** A facility name or number 0–23 (default `audit`, 13: "log audit"). */
  facility?: SyslogFacility | number;
  /** HOSTNAME (default: os.hostname()). */
  hostname?: string;
  /** TCP connect and write timeout in ms (default 5000). */
  timeoutMs?: number;
}

const SEVERITY = { allow: 6, deny: 5, error: 4 } as const; // informational, notice, warning
const SD_ID = 'keywarden@32473';
const BOM = '\uFEFF';

/** An RFC 5424 header field: printable US-ASCII without spaces, at most `max` characters, or "-". */
function headerField(v: string, max: number): string {
  const clean = v.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return clean.length > 0 ? clean : '-';
}

/** PARAM-VALUE escaping (RFC 5424 §6.3.3): `"`, `\` and `]` get a backslash. */
const sdValue = (v: string | number | null) => String(v ?? '-').replace(/["\\\]]/g, (c) => `\\${c}`);

function structuredData(r: SinkRecord): string {
  const params: Record<string, string | number | null> =
    r.type === 'event'
      ? { index: r.index, correlationId: r.correlationId, operation: r.event.operation, outcome: r.event.outcome, keyId: r.event.keyId, principal: r.event.principal?.id ?? null }
      : { size: r.checkpoint.size, rootHash: r.checkpoint.rootHash, keyId: r.checkpoint.keyId };
  return `[${SD_ID}${Object.entries(params)
    .map(([k, v]) => ` ${k}="${sdValue(v)}"`)
    .join('')}]`;
}

export interface SyslogFormat {
  facility: number;
  hostname: string;
  appName: string;
  procId: string;
}

/** One RFC 5424 SYSLOG-MSG for a record. */
export function formatSyslog(r: SinkRecord, f: SyslogFormat): string {
  const severity = r.type === 'event' ? SEVERITY[r.event.outcome] : 6;
  const time = r.type === 'event' ? r.event.time : new Date(r.checkpoint.time).toISOString();
  const msgId = r.type === 'event' ? 'audit-event' : 'audit-checkpoint';
  return `<${f.facility * 8 + severity}>1 ${time} ${headerField(f.hostname, 255)} ${headerField(f.appName, 48)} ${headerField(f.procId, 128)} ${msgId} ${structuredData(r)} ${BOM}${JSON.stringify(r)}`;
}

/** RFC 6587 octet counting: the length is in bytes (UTF-8), not characters. */
export function octetFrame(msg: string): Buffer {
  const body = Buffer.from(msg, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

function facilityNumber(f: SyslogFacility | number | undefined): number {
  const n = typeof f === 'string' ? SYSLOG_FACILITIES[f] : (f ?? SYSLOG_FACILITIES.audit);
  if (!Number.isInteger(n) || n < 0 || n > 23) throw new RangeError('syslog facility must be a facility name or 0..23');
  return n;
}

class TcpTransport implements SinkTransport {
  #socket: Socket | undefined;
  #closed = false;

  constructor(
    private readonly o: SyslogSinkOptions,
    private readonly format: SyslogFormat,
  ) {}

  async send(batch: SinkBatch): Promise<void> {
    const socket = await this.#connect();
    const frames = Buffer.concat(batch.records.map((r) => octetFrame(formatSyslog(r, this.format))));
    await new Promise<void>((resolve, reject) => {
      socket.write(frames, (e) => (e ? reject(e) : resolve()));
    }).then(
      () => void socket.unref(), // an idle connection never keeps the process alive
      (e: unknown) => {
        this.#drop();
        throw e;
      },
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    const s = this.#socket;
    this.#socket = undefined;
    if (s === undefined || s.destroyed) return;
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.end();
      setTimeout(() => s.destroy(), 1000).unref();
    });
  }

  #connect(): Promise<Socket> {
    const current = this.#socket;
    if (current !== undefined && !current.destroyed && current.writable) return Promise.resolve(current.ref());
    this.#drop();
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.o.host, port: this.o.port });
      s.setTimeout(this.o.timeoutMs ?? 5000);
      const fail = (e: Error) => {
        s.destroy();
        reject(e);
      };
      s.once('error', fail);
      const slow = () => fail(new Error(`syslog: connection to ${this.o.host}:${this.o.port} timed out`));
      s.once('timeout', slow);
      s.once('connect', () => {
        if (this.#closed) return fail(new Error('syslog: sink closed'));
        s.off('error', fail);
        s.off('timeout', slow);
        // Later errors (peer reset, ...) just mark the socket dead; the next send reconnects.
        s.on('error', () => s.destroy());
        // Idle is fine once connected; a write the collector does not take within the timeout is not.
        s.on('timeout', () => {
          if (s.writableLength > 0) s.destroy(new Error('syslog: write timed out'));
        });
        s.resume(); // a collector may talk back; nothing it says matters here
        this.#socket = s;
        resolve(s);
      });
    });
  }

  #drop(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
  }
}

class UdpTransport implements SinkTransport {
  #socket: UdpSocket | undefined;

  constructor(
    private readonly o: SyslogSinkOptions,
    private readonly format: SyslogFormat,
  ) {}

  async send(batch: SinkBatch): Promise<void> {
    const socket = (this.#socket ??= this.#open());
    for (const r of batch.records) {
      const msg = Buffer.from(formatSyslog(r, this.format), 'utf8');
      await new Promise<void>((resolve, reject) => socket.send(msg, this.o.port, this.o.host, (e) => (e ? reject(e) : resolve())));
    }
  }

  async close(): Promise<void> {
    const s = this.#socket;
    this.#socket = undefined;
    if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  #open(): UdpSocket {
    const s = createSocket(this.o.host.includes(':') ? 'udp6' : 'udp4');
    s.on('error', () => {}); // send errors arrive through the send callback
    s.unref();
    return s;
  }
}

export function syslogSink(o: SyslogSinkOptions, queue: QueueOptions = {}): QueuedSink {
  const format: SyslogFormat = {
    facility: facilityNumber(o.facility),
    hostname: o.hostname ?? hostname(),
    appName: o.appName ?? 'keywarden',
    procId: String(process.pid),
  };
  const transport = o.protocol === 'tcp' ? new TcpTransport(o, format) : new UdpTransport(o, format);
  return new QueuedSink(`syslog-${o.protocol}`, transport, queue);
}
