// Binary stream frames: uint32 LE header length, UTF-8 JSON header, raw payload.

const decoder = new TextDecoder();

/** Decode one frame into its header and a typed array view of the payload. */
export function decodeFrame(buffer) {
  const view = new DataView(buffer);
  const length = view.getUint32(0, true);
  const header = JSON.parse(decoder.decode(new Uint8Array(buffer, 4, length)));
  const offset = 4 + length;
  let data;
  if (header.dtype === 'float32') {
    // Float32Array views need 4-byte alignment; copy when the header length breaks it.
    data = offset % 4 === 0 ? new Float32Array(buffer, offset) : new Float32Array(buffer.slice(offset));
  } else {
    data = new Uint8Array(buffer, offset);
  }
  return { header, data };
}
