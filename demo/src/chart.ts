import { FRAME_SAMPLES, SAMPLE_RATE } from './vad.js';

/** Draws speech probability per frame, with the 0.5 threshold and a time axis in seconds. */
export function drawProbabilities(canvas: HTMLCanvasElement, probabilities: readonly number[]): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const { width, height } = canvas;
  const pad = { left: 36, right: 8, top: 8, bottom: 22 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  ctx.clearRect(0, 0, width, height);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#57606a';
  ctx.strokeStyle = '#d0d7de';
  for (const p of [0, 0.5, 1]) {
    const y = pad.top + plotH * (1 - p);
    ctx.beginPath();
    ctx.moveTo(pad.left, y);
    ctx.lineTo(width - pad.right, y);
    ctx.stroke();
    ctx.fillText(p.toFixed(1), 6, y + 4);
  }
  const seconds = (probabilities.length * FRAME_SAMPLES) / SAMPLE_RATE;
  for (let s = 0; s <= seconds; s += 1) {
    const x = pad.left + (plotW * s) / Math.max(seconds, 1e-9);
    ctx.fillText(`${s}s`, x - 6, height - 6);
  }
  const barW = plotW / Math.max(probabilities.length, 1);
  probabilities.forEach((p, i) => {
    ctx.fillStyle = p >= 0.5 ? '#1f6feb' : '#8c959f';
    const h = plotH * p;
    ctx.fillRect(pad.left + i * barW, pad.top + plotH - h, Math.max(barW - 1, 1), h);
  });
}
