// The GAN lab's pictures. GanCanvas: the plane with one canvas per visual layer, stacked in
// order (discriminator heatmap, real samples, fake samples, generator manifold, gradient
// arrows); a layer is redrawn only when its frame changes, at most once per animation frame,
// and switching one off just hides its canvas. SampleGrid: a tiled image frame (generated or
// real digits), pixels kept square and crisp.

import { byteLUT, css } from './palette.js';
import { fitCanvas, fmt, h } from './util.js';

export const LAYERS = [
  { name: 'heatmap', label: 'Discriminator', title: "D's belief over the plane: blue where it says real, orange where it says fake" },
  { name: 'real', label: 'Real', title: 'Samples of the target distribution' },
  { name: 'fake', label: 'Fake', title: "The generator's samples (the same latent vectors every frame)" },
  { name: 'manifold', label: 'Manifold', title: 'Where G sends a grid (latent 2) or a line (latent 1) of latent vectors' },
  { name: 'arrows', label: 'Gradients', title: "Which way the generator's loss pushes each fake sample" },
];

// Colours: real data is ink, the generator's work is violet (the fake samples, their manifold
// and arrows), so both read on either side of the heatmap's orange – blue scale.
export const REAL = [29, 35, 48];
export const FAKE = [124, 92, 196];
const FAKE_DARK = [84, 56, 150];
const ARROW_SHARE = 0.085; // the longest arrow, as a share of the canvas side

const lut = byteLUT(-1, 1); // D's 0 .. 1 (or a critic's low .. high) on orange – white – blue

export class GanCanvas {
  constructor(root, { size = 360 } = {}) {
    this.root = root;
    this.canvases = {};
    for (const layer of LAYERS) {
      this.canvases[layer.name] = h('canvas', {
        class: `gan-layer gan-${layer.name}`, 'aria-hidden': layer.name === 'heatmap' ? undefined : 'true',
        ...(layer.name === 'heatmap' ? { role: 'img', 'aria-label': "The discriminator's output over the plane, with real and generated samples" } : {}),
      });
    }
    this.readout = h('div', { class: 'hm-readout', hidden: true });
    this.banner = h('div', { class: 'hm-banner', role: 'alert', hidden: true });
    this.frame = h('div', { class: 'hm-frame gan-frame' }, ...Object.values(this.canvases), this.readout, this.banner);
    this.axisX = h('div', { class: 'hm-axis hm-axis-x' });
    this.axisY = h('div', { class: 'hm-axis hm-axis-y' });
    root.append(h('div', { class: 'hm-wrap' }, this.axisY, this.frame, this.axisX));
    this.grid = document.createElement('canvas'); // D's 64x64 grid at its own resolution
    this.data = { heatmap: null, real: null, fake: null, manifold: null, arrows: null };
    this.dirty = new Set();
    this.off = new Set();
    this.domain = [-6, 6];
    this.drawAxes();
    this.frame.addEventListener('mousemove', (e) => this.hover(e));
    this.frame.addEventListener('mouseleave', () => { this.readout.hidden = true; });
    this.resize(size);
  }

  resize(size) {
    this.size = size;
    this.frame.style.width = `${size}px`;
    this.frame.style.height = `${size}px`;
    for (const canvas of Object.values(this.canvases)) fitCanvas(canvas, size, size);
    for (const layer of LAYERS) this.dirty.add(layer.name);
    this.draw();
  }

  /** Switch layers on and off (a set of names that are off). */
  setOff(off) {
    const before = this.off;
    this.off = new Set(off);
    for (const layer of LAYERS) this.canvases[layer.name].hidden = this.off.has(layer.name);
    for (const name of before) if (!this.off.has(name)) this.dirty.add(name);
  }

  set(layer, frame) {
    this.data[layer] = frame;
    this.dirty.add(layer);
    if (layer === 'fake') this.dirty.add('arrows'); // arrows start at the fake points
    if (frame?.header.domain && String(frame.header.domain) !== String(this.domain)) {
      this.domain = frame.header.domain;
      this.drawAxes();
      for (const l of LAYERS) this.dirty.add(l.name);
    }
  }

  clear() {
    for (const layer of LAYERS) {
      this.data[layer.name] = null;
      this.dirty.add(layer.name);
    }
    this.showBanner('');
  }

  showBanner(text) {
    this.banner.hidden = !text;
    this.banner.textContent = text || '';
  }

  drawAxes() {
    const [lo, hi] = this.domain;
    const ticks = [lo, (lo + hi) / 2, hi].map((v) => h('span', {}, fmt.num(v)));
    this.axisX.replaceChildren(...ticks);
    this.axisY.replaceChildren(...ticks.map((t) => t.cloneNode(true)).reverse());
  }

  /** Redraw the layers whose frame changed (called from requestAnimationFrame). */
  draw() {
    for (const name of this.dirty) {
      if (this.off.has(name)) continue; // drawn when switched back on
      this.dirty.delete(name);
      const canvas = this.canvases[name];
      const ctx = canvas.getContext('2d');
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      if (!this.data[name] && name !== 'arrows') continue;
      const ratio = canvas.width / this.size;
      ctx.scale(ratio, ratio);
      this[`draw_${name}`](ctx);
    }
  }

  // Plane -> pixels.
  px(x) {
    const [lo, hi] = this.domain;
    return ((x - lo) / (hi - lo)) * this.size;
  }

  py(y) {
    const [lo, hi] = this.domain;
    return ((hi - y) / (hi - lo)) * this.size;
  }

  draw_heatmap(ctx) {
    const { header, data } = this.data.heatmap;
    const [rows, n] = header.shape;
    const grid = this.grid;
    if (grid.width !== n || grid.height !== rows) {
      grid.width = n;
      grid.height = rows;
      this.image = null;
    }
    const g = grid.getContext('2d');
    this.image ||= g.createImageData(n, rows);
    const out = this.image.data;
    for (let i = 0; i < n * rows; i++) {
      const j = data[i] * 4;
      const o = i * 4;
      out[o] = lut[j]; out[o + 1] = lut[j + 1]; out[o + 2] = lut[j + 2]; out[o + 3] = 255;
    }
    g.putImageData(this.image, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(grid, 0, 0, this.size, this.size);
  }

  draw_real(ctx) {
    const { header, data } = this.data.real;
    const n = header.shape[0];
    const stride = header.shape[1];
    const r = this.size > 300 ? 1.7 : 1.3;
    ctx.fillStyle = css(REAL, 0.55);
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
      const x = this.px(data[i * stride]);
      const y = this.py(data[i * stride + 1]);
      ctx.moveTo(x + r, y);
      ctx.arc(x, y, r, 0, Math.PI * 2);
    }
    ctx.fill();
  }

  draw_fake(ctx) {
    const { header, data } = this.data.fake;
    const n = header.shape[0];
    const r = this.size > 300 ? 2.6 : 2;
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
      const x = this.px(data[i * 2]);
      const y = this.py(data[i * 2 + 1]);
      ctx.moveTo(x + r, y);
      ctx.arc(x, y, r, 0, Math.PI * 2);
    }
    ctx.fillStyle = css(FAKE, 0.9);
    ctx.fill();
    ctx.lineWidth = 0.8;
    ctx.strokeStyle = 'rgba(255,255,255,0.85)';
    ctx.stroke();
  }

  draw_manifold(ctx) {
    const { header, data } = this.data.manifold;
    ctx.strokeStyle = css(FAKE_DARK, 0.4);
    ctx.lineJoin = 'round';
    if (header.latent_dim === 1) {
      ctx.lineWidth = 1.6;
      ctx.beginPath();
      for (let i = 0; i < header.shape[0]; i++) {
        const x = this.px(data[i * 2]);
        const y = this.py(data[i * 2 + 1]);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      ctx.stroke();
      return;
    }
    // Latent 2: the image of a g x g grid of latent vectors, drawn as its rows and columns.
    const [g, g2] = header.shape;
    const at = (i, j) => ((i * g2) + j) * 2;
    ctx.lineWidth = 0.8;
    ctx.beginPath();
    for (let i = 0; i < g; i++) {
      for (let j = 0; j < g2; j++) {
        const k = at(i, j);
        if (j === 0) ctx.moveTo(this.px(data[k]), this.py(data[k + 1]));
        else ctx.lineTo(this.px(data[k]), this.py(data[k + 1]));
      }
    }
    for (let j = 0; j < g2; j++) {
      for (let i = 0; i < g; i++) {
        const k = at(i, j);
        if (i === 0) ctx.moveTo(this.px(data[k]), this.py(data[k + 1]));
        else ctx.lineTo(this.px(data[k]), this.py(data[k + 1]));
      }
    }
    ctx.stroke();
  }

  draw_arrows(ctx) {
    const grads = this.data.arrows;
    const fake = this.data.fake;
    if (!grads || !fake || grads.header.shape[0] !== fake.header.shape[0]) return;
    const n = fake.header.shape[0];
    const length = this.size * ARROW_SHARE;
    const head = 3;
    ctx.strokeStyle = css(FAKE_DARK, 0.8);
    ctx.lineWidth = 1;
    ctx.lineCap = 'round';
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
      const gx = grads.data[i * 2];
      const gy = grads.data[i * 2 + 1];
      const dx = gx * length;
      const dy = -gy * length; // screen y grows downwards
      const len = Math.hypot(dx, dy);
      if (len < 2) continue;
      const x0 = this.px(fake.data[i * 2]);
      const y0 = this.py(fake.data[i * 2 + 1]);
      const x1 = x0 + dx;
      const y1 = y0 + dy;
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      const ux = dx / len;
      const uy = dy / len;
      const s = Math.min(head, len / 2);
      ctx.moveTo(x1 - s * (ux - uy * 0.6), y1 - s * (uy + ux * 0.6));
      ctx.lineTo(x1, y1);
      ctx.lineTo(x1 - s * (ux + uy * 0.6), y1 - s * (uy - ux * 0.6));
    }
    ctx.stroke();
  }

  /** What D says under the pointer, in words. */
  hover(event) {
    const rect = this.frame.getBoundingClientRect();
    const fx = (event.clientX - rect.left) / rect.width;
    const fy = (event.clientY - rect.top) / rect.height;
    const [lo, hi] = this.domain;
    const x1 = lo + fx * (hi - lo);
    const x2 = hi - fy * (hi - lo);
    let value = '';
    const source = this.data.heatmap;
    if (source) {
      const [rows, n] = source.header.shape;
      const col = Math.min(n - 1, Math.max(0, Math.floor(fx * n)));
      const row = Math.min(rows - 1, Math.max(0, Math.floor(fy * rows)));
      const [vlo, vhi] = source.header.value_range;
      const v = vlo + (source.data[row * n + col] / 255) * (vhi - vlo);
      value = vlo === 0 && vhi === 1 ? `D ${v.toFixed(2)} (${v >= 0.5 ? 'real' : 'fake'})` : `critic ${fmt.num(v)}`;
    }
    this.readout.hidden = false;
    this.readout.textContent = `x₁ ${x1.toFixed(1)}, x₂ ${x2.toFixed(1)}${value ? ` → ${value}` : ''}`;
  }
}

// ----- tiled images ----------------------------------------------------------------------

const PAPER = [255, 255, 255];
const INK = [29, 35, 48];
const GAP = [226, 229, 234]; // the 1-pixel line between cells

/**
 * A tiled image frame (`samples` or `images`), drawn at the screen's resolution: each image
 * pixel a square block of whole device pixels, cells parted by a thin line (crisp at any size).
 */
export class SampleGrid {
  constructor(root, { label }) {
    this.canvas = h('canvas', { class: 'sample-grid', role: 'img', 'aria-label': label });
    root.append(this.canvas);
    this.frame = null;
    this.dirty = false;
    this.width = 0;
  }

  set(frame) {
    this.frame = frame;
    this.dirty = true;
  }

  clear() {
    this.frame = null;
    this.dirty = true;
  }

  /** Fit into `width` CSS pixels. */
  fit(width) {
    if (width === this.width) return;
    this.width = width;
    this.dirty = true;
  }

  draw() {
    if (!this.dirty || !this.width) return;
    this.dirty = false;
    const canvas = this.canvas;
    const frame = this.frame;
    if (!frame) {
      canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
      return;
    }
    const { header, data } = frame;
    const { rows, cols } = header;
    const [ch, cw] = header.cell;
    const ratio = Math.min(window.devicePixelRatio || 1, 2);
    const gap = Math.max(1, Math.round(ratio));
    const unit = Math.max(1, Math.floor((this.width * ratio - (cols + 1) * gap) / (cols * cw)));
    const width = cols * (cw * unit + gap) + gap;
    const height = rows * (ch * unit + gap) + gap;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
      this.image = null;
    }
    canvas.style.width = `${width / ratio}px`;
    canvas.style.height = `${height / ratio}px`;
    const ctx = canvas.getContext('2d');
    this.image ||= ctx.createImageData(width, height);
    const out = this.image.data;
    for (let o = 0; o < out.length; o += 4) {
      out[o] = GAP[0]; out[o + 1] = GAP[1]; out[o + 2] = GAP[2]; out[o + 3] = 255;
    }
    const stride = cols * cw; // pixels per row of the tiled frame
    for (let r = 0; r < rows * ch; r++) {
      const y0 = gap + Math.floor(r / ch) * (ch * unit + gap) + (r % ch) * unit;
      for (let c = 0; c < stride; c++) {
        const x0 = gap + Math.floor(c / cw) * (cw * unit + gap) + (c % cw) * unit;
        const t = data[r * stride + c] / 255;
        const red = PAPER[0] + (INK[0] - PAPER[0]) * t;
        const green = PAPER[1] + (INK[1] - PAPER[1]) * t;
        const blue = PAPER[2] + (INK[2] - PAPER[2]) * t;
        for (let dy = 0; dy < unit; dy++) {
          let o = ((y0 + dy) * width + x0) * 4;
          for (let dx = 0; dx < unit; dx++, o += 4) {
            out[o] = red; out[o + 1] = green; out[o + 2] = blue; out[o + 3] = 255;
          }
        }
      }
    }
    ctx.putImageData(this.image, 0, 0);
  }
}
