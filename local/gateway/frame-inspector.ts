/**
 * Reads WebSocket frame headers (RFC 6455 §5.2) from the raw client-to-server byte stream, beside
 * `ws`'s own parser, because `ws` enforces one limit per message while API Gateway also limits
 * each frame (32 KB). It only looks at headers and skips payloads, so it costs next to nothing.
 */
export interface FrameHeader {
  readonly fin: boolean;
  readonly opcode: number;
  readonly payloadLength: number;
}

export class FrameInspector {
  private header = Buffer.alloc(0);
  private skip = 0;
  private failed = false;

  constructor(private readonly onFrame: (frame: FrameHeader) => void) {}

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length && !this.failed) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - offset);
        this.skip -= n;
        offset += n;
        continue;
      }
      // Accumulate at most the 14 header bytes a frame can have, then parse.
      const take = Math.min(14 - this.header.length, chunk.length - offset);
      const candidate = Buffer.concat([this.header, chunk.subarray(offset, offset + take)]);
      const parsed = parseHeader(candidate);
      if (!parsed) {
        this.header = candidate;
        offset += take;
        continue;
      }
      // Bytes of `candidate` beyond the header belong to the payload.
      const consumedFromChunk = parsed.headerLength - this.header.length;
      offset += consumedFromChunk;
      this.header = Buffer.alloc(0);
      this.skip = parsed.payloadLength;
      if (!Number.isSafeInteger(parsed.payloadLength)) {
        this.failed = true;
      }
      this.onFrame({ fin: parsed.fin, opcode: parsed.opcode, payloadLength: parsed.payloadLength });
    }
  }
}

function parseHeader(b: Buffer): { fin: boolean; opcode: number; payloadLength: number; headerLength: number } | null {
  if (b.length < 2) return null;
  const fin = (b[0] & 0x80) !== 0;
  const opcode = b[0] & 0x0f;
  const masked = (b[1] & 0x80) !== 0;
  const len7 = b[1] & 0x7f;
  let length = 2;
  let payloadLength = len7;
  if (len7 === 126) {
    if (b.length < 4) return null;
    payloadLength = b.readUInt16BE(2);
    length = 4;
  } else if (len7 === 127) {
    if (b.length < 10) return null;
    payloadLength = Number(b.readBigUInt64BE(2));
    length = 10;
  }
  if (masked) length += 4;
  if (b.length < length) return null;
  return { fin, opcode, payloadLength, headerLength: length };
}
