/** Mono PCM samples in [-1, 1] and their rate. */
export interface Audio {
  sampleRate: number;
  samples: Float32Array;
}

/**
 * Decodes a 16-bit PCM mono WAV (RIFF) file, the format of the bundled clip. Kept to what the clip
 * needs so the demo does not depend on an AudioContext, which some headless environments lack.
 */
export function decodeWav(buffer: ArrayBuffer): Audio {
  const view = new DataView(buffer);
  const tag = (offset: number) => String.fromCharCode(...new Uint8Array(buffer, offset, 4));
  if (buffer.byteLength < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
  let offset = 12;
  let format: { channels: number; sampleRate: number; bits: number; code: number } | undefined;
  while (offset + 8 <= buffer.byteLength) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      format = {
        code: view.getUint16(body, true),
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      if (!format) throw new Error('WAV data chunk comes before its fmt chunk');
      if (format.code !== 1 || format.bits !== 16 || format.channels !== 1) {
        throw new Error(`expected 16-bit PCM mono, got format ${format.code}, ${format.bits}-bit, ${format.channels} channels`);
      }
      const count = Math.min(size, buffer.byteLength - body) / 2;
      const samples = new Float32Array(count);
      for (let i = 0; i < count; i++) samples[i] = view.getInt16(body + i * 2, true) / 32768;
      return { sampleRate: format.sampleRate, samples };
    }
    offset = body + size + (size % 2);
  }
  throw new Error('WAV file has no data chunk');
}
