// "Your data": the panel where a person draws labelled points on the plane (click adds one,
// a drag paints several, undo, clear) or uploads a CSV. It owns the drawing; the page gets
// the whole data ({points, labels} or {points, values}) after every change.

import { parseCsv } from './csvdata.js';
import { css, MID, pointColor } from './palette.js';
import { $, fitCanvas, h, setText } from './util.js';

const SIZE = 220; // CSS px of the drawing plane
const SHOWN_CLASSES = 4; // class buttons shown (a CSV may use up to the class limit)
const PAINT_GAP = 0.35; // plane units between painted points of one drag

const round2 = (v) => Math.round(v * 100) / 100;

export class OwnDataPanel {
  /** root: the panel; limits: the catalog's; onChange(data) after each edit. */
  constructor(root, { limits, onChange }) {
    this.root = root;
    this.limits = limits;
    this.onChange = onChange;
    this.extent = limits.max_coordinate;
    this.data = { points: [], labels: [] };
    this.label = 0;
    this.canvas = $('#draw-plane', root);
    this.bind();
  }

  get regression() {
    return Array.isArray(this.data.values);
  }

  bind() {
    const classes = $('#draw-classes', this.root);
    for (let k = 0; k < SHOWN_CLASSES; k++) {
      classes.append(h('button', {
        type: 'button', id: `draw-class-${k}`, class: 'draw-class', 'aria-pressed': String(k === 0),
        style: `--swatch: ${css(pointColor(k, SHOWN_CLASSES, 1))}`, onclick: () => this.pickClass(k),
      }, `Class ${k}`));
    }
    $('#draw-mode', this.root).addEventListener('change', (e) => this.setMode(e.target.value));
    $('#draw-undo', this.root).addEventListener('click', () => this.undo());
    $('#draw-clear', this.root).addEventListener('click', () => this.clear());
    const file = $('#csv-file', this.root);
    file.addEventListener('change', async () => {
      const picked = file.files?.[0];
      file.value = ''; // the same file can be picked again
      if (picked) this.upload(picked.name, await picked.text());
    });
    const canvas = this.canvas;
    canvas.addEventListener('pointerdown', (e) => {
      canvas.setPointerCapture(e.pointerId);
      this.painting = true;
      this.addAt(e);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!this.painting) return;
      const [x1, x2] = this.planeAt(e);
      const last = this.data.points.at(-1);
      if (!last || Math.hypot(x1 - last[0], x2 - last[1]) >= PAINT_GAP) this.addAt(e);
    });
    const end = () => { this.painting = false; };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  /** Show data from the spec (a link, an import, a reload). */
  show(dataset) {
    const points = dataset.points || [];
    this.data = Array.isArray(dataset.values)
      ? { points: [...points], values: [...dataset.values] }
      : { points: [...points], labels: [...(dataset.labels || [])] };
    $('#draw-mode', this.root).value = this.regression ? 'values' : 'labels';
    this.renderTools();
    this.draw();
    if (!points.length) this.say(this.advice());
  }

  planeAt(event) {
    const rect = this.canvas.getBoundingClientRect();
    const e = this.extent;
    const x1 = ((event.clientX - rect.left) / rect.width) * 2 * e - e;
    const x2 = e - ((event.clientY - rect.top) / rect.height) * 2 * e;
    return [round2(Math.max(-e, Math.min(e, x1))), round2(Math.max(-e, Math.min(e, x2)))];
  }

  addAt(event) {
    if (this.data.points.length >= this.limits.max_custom_rows) {
      this.say(`That is the most points one run trains on (${this.limits.max_custom_rows}).`);
      return;
    }
    this.data.points.push(this.planeAt(event));
    if (this.regression) this.data.values.push(Number($('#draw-value', this.root).value) || 0);
    else this.data.labels.push(this.label);
    this.changed();
  }

  pickClass(k) {
    this.label = k;
    this.renderTools();
  }

  setMode(mode) {
    const n = this.data.points.length;
    this.data = mode === 'values'
      ? { points: this.data.points, values: new Array(n).fill(0).map((_, i) => this.data.labels?.[i] ?? 0) }
      : { points: this.data.points, labels: new Array(n).fill(0).map((_, i) => (this.data.values?.[i] > 0 ? 1 : 0)) };
    this.changed();
  }

  undo() {
    if (!this.data.points.length) return;
    this.data.points.pop();
    (this.regression ? this.data.values : this.data.labels).pop();
    this.changed();
  }

  clear() {
    this.data = this.regression ? { points: [], values: [] } : { points: [], labels: [] };
    this.changed();
  }

  upload(name, text) {
    try {
      const mode = $('#draw-mode', this.root).value;
      this.data = parseCsv(text, 'auto', {
        maxRows: this.limits.max_custom_rows, maxClasses: this.limits.max_classes, maxCoordinate: this.extent,
      });
      if (mode !== (this.regression ? 'values' : 'labels')) $('#draw-mode', this.root).value = this.regression ? 'values' : 'labels';
    } catch (error) {
      this.say(`Cannot read ${name}: ${error.message}.`, 'bad');
      return;
    }
    this.changed(`Read ${this.data.points.length} rows from ${name}.`);
  }

  changed(message = '') {
    this.renderTools();
    this.draw();
    this.say(message || this.advice());
    this.onChange(this.data);
  }

  /** What is still missing before the data can train ('' when it can). */
  advice() {
    const n = this.data.points.length;
    const min = this.limits.min_custom_rows;
    if (n < min) return `Click to add points (at least ${min}); drag to paint several.`;
    if (!this.regression && new Set(this.data.labels).size < 2) return 'Add points of a second class.';
    return '';
  }

  say(text, tone = '') {
    const note = $('#own-data-note', this.root);
    setText(note, text);
    note.dataset.tone = tone;
  }

  renderTools() {
    $('#draw-classes', this.root).hidden = this.regression;
    $('#draw-value-field', this.root).hidden = !this.regression;
    for (let k = 0; k < SHOWN_CLASSES; k++) {
      $(`#draw-class-${k}`, this.root).setAttribute('aria-pressed', String(k === this.label));
    }
    setText($('#draw-count', this.root), `${this.data.points.length} point${this.data.points.length === 1 ? '' : 's'}`);
  }

  draw() {
    const ratio = fitCanvas(this.canvas, SIZE, SIZE);
    const ctx = this.canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = css(MID);
    ctx.fillRect(0, 0, SIZE, SIZE);
    ctx.strokeStyle = 'rgba(0,0,0,0.15)';
    ctx.beginPath();
    ctx.moveTo(SIZE / 2, 0);
    ctx.lineTo(SIZE / 2, SIZE);
    ctx.moveTo(0, SIZE / 2);
    ctx.lineTo(SIZE, SIZE / 2);
    ctx.stroke();
    const e = this.extent;
    const targets = this.regression ? this.data.values : this.data.labels;
    const classes = this.regression ? 0 : Math.max(2, ...targets.map((t) => t + 1));
    const spread = this.regression ? Math.max(1e-9, ...targets.map(Math.abs)) : 1;
    this.data.points.forEach(([x1, x2], i) => {
      ctx.fillStyle = css(pointColor(targets[i], classes, spread));
      ctx.beginPath();
      ctx.arc(((x1 + e) / (2 * e)) * SIZE, ((e - x2) / (2 * e)) * SIZE, 3.5, 0, Math.PI * 2);
      ctx.fill();
      ctx.strokeStyle = 'rgba(255,255,255,0.8)';
      ctx.stroke();
    });
  }
}

/** Whether own data can train: enough rows, and two classes for a classifier. */
export function ownDataReady(dataset, limits) {
  const n = dataset.points?.length ?? 0;
  if (n < limits.min_custom_rows) return false;
  return Array.isArray(dataset.values) || new Set(dataset.labels || []).size >= 2;
}

/** The "Your data" thumbnail: a few hand-placed dots of two classes and a plus sign. */
export function drawOwnThumb(canvas, size) {
  const ctx = canvas.getContext('2d');
  const ratio = canvas.width / size;
  ctx.scale(ratio, ratio);
  ctx.fillStyle = css(MID);
  ctx.fillRect(0, 0, size, size);
  const dots = [[0.25, 0.3, 0], [0.35, 0.2, 0], [0.3, 0.45, 0], [0.7, 0.65, 1], [0.62, 0.8, 1], [0.8, 0.72, 1]];
  for (const [x, y, k] of dots) {
    ctx.fillStyle = css(pointColor(k, 2, 1));
    ctx.beginPath();
    ctx.arc(x * size, y * size, 2.6, 0, Math.PI * 2);
    ctx.fill();
  }
  ctx.strokeStyle = '#1f2937';
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(size * 0.72, size * 0.16);
  ctx.lineTo(size * 0.72, size * 0.4);
  ctx.moveTo(size * 0.6, size * 0.28);
  ctx.lineTo(size * 0.84, size * 0.28);
  ctx.stroke();
}
