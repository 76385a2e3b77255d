import { tensor, type Feeds } from '../tensor.js';

/** One Silero VAD v5 frame: 64 samples of context + 512 new ones at 16 kHz, a tone when `loud`. */
export function sileroFeeds(seed = 1, loud = false): Feeds {
  const input = new Float32Array(576);
  for (let i = 0; i < input.length; i++) input[i] = loud ? 0.5 * Math.sin((i * seed) / 7) : 0.001 * Math.sin(i * seed);
  return {
    input: tensor('float32', input, [1, 576]),
    state: tensor('float32', new Float32Array(256), [2, 1, 128]),
    sr: tensor('int64', BigInt64Array.of(16000n), []),
  };
}
