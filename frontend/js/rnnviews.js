// What the RNN lab draws from its frames: the network unfolded over time (x_t -> h_t -> y_t,
// h_{t-1} -> h_t, each step's hidden state a coloured column), heatmaps of time x units (the
// hidden state, each gate) and the text a text run generates. Payloads: see api/frames.py.

import { diverging } from './palette.js';
import { fmt, h, setText } from './util.js';

const byteValue = (v, [lo, hi]) => lo + (v / 255) * (hi - lo);
const colourOf = (value, [lo, hi]) => {
  const extent = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
  return `rgb(${diverging(value / extent).map(Math.round).join(',')})`;
};

/** A heatmap of a `(time, units)` uint8 block: one column per step, one row per unit. */
export class TimeHeatmap {
  constructor(root, { label }) {
    this.canvas = h('canvas', { class: 'time-heatmap', role: 'img', 'aria-label': label });
    this.caption = h('figcaption', {}, label);
    root.append(h('figure', { class: 'time-figure' }, this.caption, this.canvas));
  }

  /** data: uint8 from `offset`, `time` rows of `units`; range: what 0 and 255 stand for. */
  draw(data, time, units, range, { offset = 0, caption = null, cell = 14, tall = 160 } = {}) {
    const canvas = this.canvas;
    if (canvas.width !== time || canvas.height !== units) {
      canvas.width = time;
      canvas.height = units;
    }
    canvas.style.width = `${Math.min(640, time * cell)}px`;
    canvas.style.height = `${Math.min(tall, Math.max(40, units * 6))}px`;
    const ctx = canvas.getContext('2d');
    const image = ctx.createImageData(time, units);
    const extent = Math.max(Math.abs(range[0]), Math.abs(range[1])) || 1;
    for (let t = 0; t < time; t++) {
      for (let u = 0; u < units; u++) {
        const [r, g, b] = diverging(byteValue(data[offset + t * units + u], range) / extent);
        const i = (u * time + t) * 4;
        image.data[i] = r;
        image.data[i + 1] = g;
        image.data[i + 2] = b;
        image.data[i + 3] = 255;
      }
    }
    ctx.putImageData(image, 0, 0);
    if (caption) setText(this.caption, caption);
  }
}

const MAX_UNITS_DRAWN = 16; // cells of a hidden-state column in the unfolded picture
const COLUMN = 34; // px per time step

/**
 * The network unfolded over the probe sequence: per step an input box x_t, the hidden state
 * h_t as a column of coloured cells, the output y_t; arrows h_{t-1} -> h_t. Pointing at a step
 * shows its values.
 */
export class UnfoldedView {
  constructor(root, { onPoint = () => {} } = {}) {
    this.root = root;
    this.onPoint = onPoint;
    this.svg = null;
    this.key = '';
    this.readout = h('p', { class: 'unfold-readout', 'aria-live': 'polite' }, 'Point at a step to read its values.');
    this.box = h('div', { class: 'unfold-box' });
    root.append(this.box, this.readout);
  }

  build(time, units) {
    this.key = `${time}:${units}`;
    const shown = Math.min(units, MAX_UNITS_DRAWN);
    const cell = Math.max(5, Math.min(10, Math.floor(120 / shown)));
    const width = time * COLUMN + 20;
    const top = 30;
    const height = top + shown * cell + 60;
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    svg.setAttribute('width', String(width));
    svg.setAttribute('height', String(height));
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', `The network unfolded over ${time} time steps`);
    const el = (tag, attrs, text) => {
      const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
      for (const [k, v] of Object.entries(attrs)) {
        if (k === 'style') Object.assign(node.style, v); // inline: wins over the page's svg rules
        else node.setAttribute(k, String(v));
      }
      if (text !== undefined) node.textContent = text;
      svg.append(node);
      return node;
    };
    this.cells = [];
    this.inputs = [];
    this.outputs = [];
    this.columns = [];
    for (let t = 0; t < time; t++) {
      const x = 10 + t * COLUMN;
      const column = el('rect', { x: x - 2, y: 2, width: COLUMN - 4, height: height - 4, rx: 4, class: 'unfold-col', style: { fill: 'transparent', stroke: 'none' } });
      this.columns.push(column);
      this.outputs.push(el('circle', { cx: x + 11, cy: 14, r: 7, class: 'unfold-y', style: { fill: '#fff', stroke: '#9aa3af', strokeWidth: '1.5' } }));
      const cells = [];
      for (let u = 0; u < shown; u++) {
        cells.push(el('rect', { x: x + 4, y: top + u * cell, width: 14, height: cell - 1, class: 'unfold-h', style: { fill: '#eceef1', stroke: 'none' } }));
      }
      this.cells.push(cells);
      if (t > 0) el('path', { d: `M${x - 12} ${top + (shown * cell) / 2} h12`, class: 'unfold-arrow', style: { fill: 'none', stroke: '#9aa3af', strokeWidth: '1.5' } });
      this.inputs.push(el('rect', { x: x + 3, y: top + shown * cell + 10, width: 16, height: 16, rx: 3, class: 'unfold-x', style: { fill: '#e8eaed', stroke: 'rgba(29, 35, 48, .25)' } }));
      if (t % Math.ceil(time / 10) === 0 || t === time - 1) {
        el('text', { x: x + 11, y: height - 8, class: 'unfold-t' }, String(t + 1));
      }
    }
    for (let t = 0; t < time; t++) {
      const hit = el('rect', { x: 8 + t * COLUMN, y: 0, width: COLUMN, height, class: 'unfold-hit', style: { fill: 'transparent', stroke: 'none' } });
      hit.addEventListener('pointerenter', () => this.point(t));
      hit.addEventListener('focus', () => this.point(t));
    }
    svg.addEventListener('pointerleave', () => this.point(null));
    this.svg = svg;
    this.box.replaceChildren(svg);
  }

  /** hidden: the `hidden_state` frame; sequence: the `sequence` frame (inputs, targets, predictions). */
  update(hidden, sequence) {
    if (!hidden) return;
    const [time, units] = hidden.header.shape;
    if (this.key !== `${time}:${units}`) this.build(time, units);
    this.hidden = hidden;
    this.sequence = sequence;
    const range = hidden.header.value_range;
    const shown = Math.min(units, MAX_UNITS_DRAWN);
    for (let t = 0; t < time; t++) {
      for (let u = 0; u < shown; u++) {
        this.cells[t][u].style.fill = colourOf(byteValue(hidden.data[t * units + u], range), range);
      }
    }
    if (sequence && sequence.header.shape[1] === time) {
      const row = (r, t) => sequence.data[r * time + t];
      const symbols = sequence.header.input_kind === 'symbol';
      const extent = symbols ? 1 : Math.max(1e-6, ...Array.from({ length: time }, (_, t) => Math.abs(row(0, t))));
      for (let t = 0; t < time; t++) {
        const x = row(0, t);
        this.inputs[t].style.fill = symbols ? '#e8eaed' : colourOf(x / extent, [-1, 1]);
        const answered = Number.isFinite(row(1, t));
        Object.assign(this.outputs[t].style, answered ? { fill: '#0877bd', stroke: '#0877bd' } : { fill: '#fff', stroke: '#9aa3af' });
      }
    }
    if (this.pointed !== null && this.pointed !== undefined) this.point(this.pointed);
  }

  point(t) {
    this.pointed = t;
    for (const [i, column] of (this.columns ?? []).entries()) column.style.fill = i === t ? '#eef4fb' : 'transparent';
    if (t === null || !this.hidden) {
      setText(this.readout, 'Point at a step to read its values.');
      this.onPoint(null);
      return;
    }
    const [time, units] = this.hidden.header.shape;
    const range = this.hidden.header.value_range;
    const values = Array.from({ length: Math.min(units, 6) }, (_, u) => fmt.num(byteValue(this.hidden.data[t * units + u], range)));
    const parts = [`t = ${t + 1}`];
    const seq = this.sequence;
    if (seq && seq.header.shape[1] === time) {
      const row = (r) => seq.data[r * time + t];
      parts.push(`x = ${fmt.num(row(0))}`);
      if (Number.isFinite(row(1))) parts.push(`target ${fmt.num(row(1))}`, `prediction ${fmt.num(row(2))}`);
    }
    parts.push(`h = [${values.join(', ')}${units > 6 ? ', …' : ''}]`);
    setText(this.readout, parts.join(' · '));
    this.onPoint(t);
  }
}
