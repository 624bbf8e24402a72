// What the CNN lab draws from its frames: images as little canvases, every conv layer's
// kernels, the probe image's feature maps layer by layer, the prediction bars, and clickable
// image strips (test images, mistakes). Pixels arrive as uint8 (see api/frames.py).

import { diverging } from './palette.js';
import { fmt, h, setText } from './util.js';

/** The bytes of a base64 string (the REST answers' `pixels`). */
export function fromBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/**
 * Paint `values` (uint8, h x w row-major, from `offset`) into `canvas` at its natural size;
 * CSS scales it up with crisp pixels. colour(v) gives [r, g, b] (grey by default).
 */
export function paint(canvas, values, hgt, w, { offset = 0, colour = null } = {}) {
  if (canvas.width !== w || canvas.height !== hgt) {
    canvas.width = w;
    canvas.height = hgt;
  }
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(w, hgt);
  const px = image.data;
  for (let i = 0; i < w * hgt; i++) {
    const v = values[offset + i];
    const [r, g, b] = colour ? colour(v) : [v, v, v];
    px[i * 4] = r;
    px[i * 4 + 1] = g;
    px[i * 4 + 2] = b;
    px[i * 4 + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/** A new canvas showing one image, `size` CSS pixels wide. */
export function imageCanvas(values, hgt, w, size, options = {}) {
  const canvas = h('canvas', { class: 'pixels', 'aria-hidden': 'true' });
  canvas.style.width = `${size}px`;
  canvas.style.height = `${Math.round((size * hgt) / w)}px`;
  return paint(canvas, values, hgt, w, options);
}

// Kernel weights: orange negative, white zero, blue positive (the page's one diverging scale),
// each output channel scaled to its own largest weight, so a small kernel still shows its pattern.
const weight = (v, lo, hi) => lo + (v / 255) * (hi - lo);
const weightColour = (lo, hi, extent) => (v) => diverging(weight(v, lo, hi) / extent).map(Math.round);

/** The largest |weight| among `count` bytes from `offset` (at least a tiny number). */
function extentOf(values, offset, count, lo, hi) {
  let most = 1e-12;
  for (let i = offset; i < offset + count; i++) most = Math.max(most, Math.abs(weight(values[i], lo, hi)));
  return most;
}

const MAX_IN = 8; // input channels drawn per output channel (the rest are summarised)

/** Every conv layer's kernels as little images: one row per output channel. */
export class KernelsView {
  constructor(root) {
    this.root = root;
    this.key = '';
    this.empty('No convolution layer: add one to see its kernels.');
  }

  empty(text) {
    this.key = '';
    this.root.replaceChildren(h('p', { class: 'cnn-empty' }, text));
  }

  update(frame) {
    const layers = frame?.header.layers ?? [];
    if (!layers.length) {
      if (this.key !== 'none') this.empty('No convolution layer: add one to see its kernels.');
      this.key = 'none';
      return;
    }
    const key = JSON.stringify(layers.map((l) => l.shape));
    if (key !== this.key) this.build(layers, key);
    let offset = 0;
    layers.forEach((layer, li) => {
      const [out, inCh, k, k2] = layer.shape;
      const [lo, hi] = layer.value_range;
      setText(this.ranges[li], `weights ${fmt.num(lo)} … ${fmt.num(hi)}`);
      for (let o = 0; o < out; o++) {
        const block = offset + o * inCh * k * k2;
        const colour = weightColour(lo, hi, extentOf(frame.data, block, inCh * k * k2, lo, hi));
        for (let i = 0; i < Math.min(inCh, MAX_IN); i++) {
          paint(this.cells[li][o][i], frame.data, k, k2, { offset: offset + (o * inCh + i) * k * k2, colour });
        }
      }
      offset += out * inCh * k * k2;
    });
  }

  build(layers, key) {
    this.key = key;
    this.cells = [];
    this.ranges = [];
    this.root.replaceChildren(...layers.map((layer, li) => {
      const [out, inCh, k] = layer.shape;
      const size = inCh > 1 ? Math.max(12, Math.min(24, 6 * k)) : Math.max(24, Math.min(42, 10 * k));
      const rows = [];
      const cells = [];
      for (let o = 0; o < out; o++) {
        const row = [];
        for (let i = 0; i < Math.min(inCh, MAX_IN); i++) {
          const canvas = h('canvas', { class: 'pixels kernel', 'aria-hidden': 'true' });
          canvas.style.width = canvas.style.height = `${size}px`;
          row.push(canvas);
        }
        cells.push(row);
        rows.push(h('div', { class: 'kernel-row', title: `Output channel ${o + 1}` }, ...row));
      }
      this.cells.push(cells);
      const range = h('span', { class: 'cnn-range' });
      this.ranges.push(range);
      const more = inCh > MAX_IN ? ` (first ${MAX_IN} of ${inCh} input channels shown)` : '';
      return h('figure', { class: 'kernel-layer', dataset: { layer: String(li) } },
        h('figcaption', {}, h('strong', {}, `Conv ${li + 1}`), ` · ${out} kernels of ${k}×${k}`
          + `${inCh > 1 ? ` × ${inCh} input channels` : ''}${more} `, range),
        h('div', { class: inCh > 1 ? 'kernel-rows' : 'kernel-grid' }, ...rows));
    }));
  }
}

const LAYER_WORDS = { conv2d: 'Conv', maxpool2d: 'Max pool', avgpool2d: 'Average pool' };
const MAX_MAPS = 32; // channels drawn per layer

/** The probe image's activations after every conv and pool layer (CNN Explainer's overview). */
export class FeatureMapsView {
  constructor(root) {
    this.root = root;
    this.key = '';
    this.root.replaceChildren(h('p', { class: 'cnn-empty' }, 'Feature maps appear once the network is ready.'));
  }

  update(frame, probe) {
    const layers = frame?.header.layers ?? [];
    const key = JSON.stringify(layers.map((l) => [l.kind, l.shape]));
    if (key !== this.key) this.build(layers, key);
    if (probe && this.input) {
      const [hgt, w] = probe.header.shape;
      paint(this.input, probe.data, hgt, w);
    }
    let offset = 0;
    layers.forEach((layer, li) => {
      const [c, hgt, w] = layer.shape;
      for (let ch = 0; ch < Math.min(c, MAX_MAPS); ch++) {
        paint(this.maps[li][ch], frame.data, hgt, w, { offset: offset + ch * hgt * w });
      }
      offset += c * hgt * w;
    });
  }

  build(layers, key) {
    this.key = key;
    this.maps = [];
    this.input = h('canvas', { class: 'pixels', 'aria-hidden': 'true' });
    this.input.style.width = this.input.style.height = '56px';
    const columns = [h('figure', { class: 'fmap-layer input' }, h('figcaption', {}, h('strong', {}, 'Input')), this.input)];
    let conv = 0;
    let pool = 0;
    layers.forEach((layer) => {
      const [c, hgt, w] = layer.shape;
      const size = Math.max(18, Math.min(48, 4 * Math.max(hgt, w)));
      const maps = [];
      for (let ch = 0; ch < Math.min(c, MAX_MAPS); ch++) {
        const canvas = h('canvas', { class: 'pixels', 'aria-hidden': 'true', title: `Channel ${ch + 1}` });
        canvas.style.width = `${size}px`;
        canvas.style.height = `${Math.round((size * hgt) / w)}px`;
        maps.push(canvas);
      }
      this.maps.push(maps);
      const n = layer.kind === 'conv2d' ? ++conv : ++pool;
      columns.push(h('figure', { class: 'fmap-layer', dataset: { kind: layer.kind } },
        h('figcaption', {}, h('strong', {}, `${LAYER_WORDS[layer.kind] ?? layer.kind} ${n}`), h('br'), `${c}×${hgt}×${w}`),
        h('div', { class: 'fmap-grid' }, ...maps),
        c > MAX_MAPS ? h('span', { class: 'cnn-range' }, `first ${MAX_MAPS} of ${c}`) : null));
    });
    this.root.replaceChildren(...columns);
  }
}

/** The probe image, large, with the network's class probabilities as bars. */
export class PredictionView {
  constructor(root, { title }) {
    this.root = root;
    this.canvas = h('canvas', { class: 'pixels probe-image', role: 'img', 'aria-label': title });
    this.caption = h('p', { class: 'probe-caption' });
    this.bars = h('ol', { class: 'pred-bars', 'aria-label': 'Class probabilities' });
    root.append(h('div', { class: 'probe-box' }, this.canvas, this.caption), this.bars);
    this.names = [];
  }

  setClasses(names) {
    if (JSON.stringify(names) === JSON.stringify(this.names)) return;
    this.names = names;
    this.rows = names.map((name) => {
      const fill = h('span', { class: 'pred-fill' });
      const value = h('span', { class: 'pred-value' }, '–');
      const row = h('li', { class: 'pred-row' }, h('span', { class: 'pred-name' }, name), h('span', { class: 'pred-track' }, fill), value);
      return { row, fill, value };
    });
    this.bars.replaceChildren(...this.rows.map((r) => r.row));
  }

  /** A `probe` frame: its image, its true class (if a test image) and the probabilities. */
  update(probe) {
    const { header, data } = probe;
    const [hgt, w] = header.shape;
    paint(this.canvas, data, hgt, w);
    const name = (k) => this.names[k] ?? String(k);
    const predicted = header.predicted;
    const drawn = header.index === null || header.index === undefined;
    const truth = drawn ? 'your drawing' : `test image ${header.index} · true class ${name(header.label)}`;
    const verdict = drawn ? '' : (predicted === header.label ? ' · right' : ' · wrong');
    setText(this.caption, `${truth} · predicted ${name(predicted)}${verdict}`);
    this.caption.dataset.verdict = drawn ? 'drawn' : (predicted === header.label ? 'right' : 'wrong');
    header.probabilities.forEach((p, k) => {
      const r = this.rows?.[k];
      if (!r) return;
      r.fill.style.width = `${(p * 100).toFixed(1)}%`;
      setText(r.value, fmt.pct(p));
      r.row.classList.toggle('top', k === predicted);
    });
  }
}

/**
 * A strip of clickable images: `set(images)` with [{pixels, offset, h, w, index, caption,
 * title}]; onPick(index). `select(index)` marks the probe.
 */
export class ImageStrip {
  constructor(root, { label, onPick, size = 40 }) {
    this.root = root;
    this.label = label;
    this.onPick = onPick;
    this.size = size;
    this.buttons = new Map();
    this.root.setAttribute('role', 'list');
    this.root.setAttribute('aria-label', label);
  }

  set(images, emptyText = '') {
    this.buttons = new Map();
    if (!images.length) {
      this.root.replaceChildren(emptyText ? h('p', { class: 'cnn-empty' }, emptyText) : '');
      return;
    }
    this.root.replaceChildren(...images.map((image) => {
      const button = h('button', {
        type: 'button', class: 'image-pick', title: image.title, 'aria-label': image.title,
        dataset: { index: String(image.index) }, onclick: () => this.onPick(image.index),
      }, imageCanvas(image.pixels, image.h, image.w, this.size, { offset: image.offset }),
      image.caption ? h('span', { class: 'image-caption' }, image.caption) : null);
      this.buttons.set(image.index, button);
      return h('div', { role: 'listitem' }, button);
    }));
  }

  select(index) {
    for (const [i, button] of this.buttons) button.setAttribute('aria-pressed', String(i === index));
  }
}
