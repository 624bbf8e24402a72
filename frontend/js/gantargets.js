// The GAN lab's target picker: a thumbnail per GAN target (2-D targets from the server's preview
// points; "Draw" shows the drawing; "Digits" a digit), and the pad on which a person draws one.

import { api } from './api.js';
import { css, MID } from './palette.js';
import { REAL } from './gancanvas.js';
import { snapCoordinate, targetTitle } from './ganstate.js';
import { fitCanvas, fmt, h, radioArrows } from './util.js';

const THUMB = 50;
const STROKE_SPACING = 0.3; // a drag adds a point every this many units of the plane

// A handwritten-looking 3 on 8x8 pixels (0..4), for the digits thumbnail.
const DIGIT = [
  '01332100', '03400430', '00000430', '00134300', '00003410', '00000340', '03300430', '01344300',
];

/** Points of a `modes`-Gaussian mixture (centres on a circle of radius 4), as the server draws them. */
function mixture(modes, n = 200) {
  const points = [];
  let seed = 7;
  const random = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  for (let i = 0; i < n; i++) {
    const k = i % modes;
    const angle = (2 * Math.PI * k) / modes;
    const r = Math.sqrt(-2 * Math.log(random() + 1e-9)) * 0.25;
    const t = 2 * Math.PI * random();
    points.push([4 * Math.cos(angle) + r * Math.cos(t), 4 * Math.sin(angle) + r * Math.sin(t)]);
  }
  return points;
}

export class TargetPicker {
  /** onPick(name). */
  constructor(root, { catalog, onPick }) {
    this.root = root;
    this.buttons = new Map();
    this.canvases = new Map();
    this.previews = new Map();
    this.infos = catalog.gan.targets.map((name) => catalog.datasets.find((d) => d.name === name)).filter(Boolean);
    for (const info of this.infos) {
      const canvas = h('canvas', { 'aria-hidden': 'true' });
      fitCanvas(canvas, THUMB, THUMB);
      const label = info.points ? 'Draw' : targetTitle(info);
      const button = h('button', {
        type: 'button', class: 'thumb gan-thumb', role: 'radio', 'aria-checked': 'false',
        'aria-label': label, title: `${info.title}: ${info.gan_description || info.description}`,
        dataset: { target: info.name },
        onclick: () => onPick(info.name),
      }, canvas, h('span', { class: 'thumb-name' }, label));
      this.buttons.set(info.name, button);
      this.canvases.set(info.name, canvas);
      root.append(button);
      if (!info.points && !info.image && !info.modes) this.fetch(info.name);
    }
    this.drawDigit(this.infos.find((i) => i.image)?.name);
    root.addEventListener('keydown', (event) => radioArrows(this.buttons, event, onPick));
  }

  async fetch(name) {
    try {
      const preview = await api.preview(name, { n_samples: 200, noise: 0 });
      this.previews.set(name, { points: preview.points, domain: preview.domain });
      this.drawPoints(name, preview.points, preview.domain);
    } catch {
      // The thumbnail stays blank; the target still works.
    }
  }

  context(name) {
    const canvas = this.canvases.get(name);
    const ctx = canvas.getContext('2d');
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.scale(canvas.width / THUMB, canvas.height / THUMB);
    ctx.fillStyle = css(MID);
    ctx.fillRect(0, 0, THUMB, THUMB);
    return ctx;
  }

  drawPoints(name, points, domain = [-6, 6], radius = 1.3) {
    if (!this.canvases.has(name)) return;
    const ctx = this.context(name);
    const [lo, hi] = domain;
    ctx.fillStyle = css(REAL, 0.75);
    ctx.beginPath();
    for (const [x, y] of points) {
      const px = ((x - lo) / (hi - lo)) * THUMB;
      const py = ((hi - y) / (hi - lo)) * THUMB;
      ctx.moveTo(px + radius, py);
      ctx.arc(px, py, radius, 0, Math.PI * 2);
    }
    ctx.fill();
  }

  drawDigit(name) {
    if (!name) return;
    const ctx = this.context(name);
    const cell = 4.5;
    const offset = (THUMB - cell * 8) / 2;
    DIGIT.forEach((row, r) => [...row].forEach((v, c) => {
      if (v === '0') return;
      ctx.fillStyle = css(REAL, Number(v) / 4);
      ctx.fillRect(offset + c * cell, offset + r * cell, cell, cell);
    }));
  }

  /** A pencil over an empty pad, or the drawing itself. */
  drawDrawn(name, points) {
    if (points.length) {
      this.drawPoints(name, points, [-6, 6], 1.6);
      return;
    }
    const ctx = this.context(name);
    ctx.save();
    ctx.translate(THUMB / 2, THUMB / 2);
    ctx.rotate(-Math.PI / 4);
    ctx.fillStyle = css(REAL, 0.8);
    ctx.fillRect(-13, -3.5, 20, 7);
    ctx.beginPath();
    ctx.moveTo(7, -3.5);
    ctx.lineTo(14, 0);
    ctx.lineTo(7, 3.5);
    ctx.fill();
    ctx.restore();
  }

  /** Mark the chosen target; redraw the thumbnails that follow the settings (modes, drawing). */
  update(name, { modes, points }) {
    for (const [key, button] of this.buttons) {
      const on = key === name;
      button.setAttribute('aria-checked', on ? 'true' : 'false');
      button.tabIndex = on ? 0 : -1;
    }
    for (const info of this.infos) {
      if (info.modes && this.modes !== modes) this.drawPoints(info.name, mixture(modes));
      if (info.points && this.drawnKey !== String(points.length) + points.at(-1)) this.drawDrawn(info.name, points);
    }
    this.modes = modes;
    this.drawnKey = String(points.length) + points.at(-1);
  }
}

/** The pad a target is drawn on: click or drag to place points, Undo takes back a stroke. */
export class DrawPad {
  /** onChange(points) when a stroke ends, or on Undo / Clear. */
  constructor(root, { limits, onChange }) {
    this.root = root;
    this.limit = limits.max_coordinate;
    this.max = limits.max_drawn_points;
    this.min = limits.min_drawn_points;
    this.onChange = onChange;
    this.strokes = []; // lengths of the strokes, to undo one
    this.points = [];
    this.canvas = h('canvas', { class: 'draw-canvas', role: 'img',
      'aria-label': 'Drawing pad: click or drag to place the points of the target' });
    this.count = h('span', { class: 'draw-count', role: 'status' });
    this.undoButton = h('button', { type: 'button', class: 'ghost-btn small', onclick: () => this.undo() }, 'Undo');
    this.clearButton = h('button', { type: 'button', class: 'ghost-btn small', onclick: () => this.clear() }, 'Clear');
    root.append(this.canvas, h('div', { class: 'draw-foot' }, this.count, this.undoButton, this.clearButton));
    this.size = 0;
    this.canvas.addEventListener('pointerdown', (e) => this.down(e));
    this.canvas.addEventListener('pointermove', (e) => this.move(e));
    this.canvas.addEventListener('pointerup', (e) => this.up(e));
    this.canvas.addEventListener('pointercancel', (e) => this.up(e));
    new ResizeObserver(([entry]) => {
      const width = Math.floor(entry.contentRect.width);
      if (width && width !== this.size) {
        this.size = width;
        fitCanvas(this.canvas, width, width);
        this.draw();
      }
    }).observe(root);
  }

  /** Show the points of the current spec (they change with links, lessons and undo). */
  set(points) {
    if (this.drawing) return;
    if (String(points) !== String(this.points)) {
      this.points = points.map((p) => [...p]);
      this.strokes = this.points.length ? [this.points.length] : []; // undo takes it all back
    }
    this.draw();
  }

  toPlane(event) {
    const rect = this.canvas.getBoundingClientRect();
    const l = this.limit;
    const x = -l + ((event.clientX - rect.left) / rect.width) * 2 * l;
    const y = l - ((event.clientY - rect.top) / rect.height) * 2 * l;
    const clamp = (v) => snapCoordinate(Math.max(-l, Math.min(l, v)));
    return [clamp(x), clamp(y)];
  }

  add(point) {
    if (this.points.length >= this.max) return false;
    this.points.push(point);
    this.last = point;
    return true;
  }

  down(event) {
    if (event.button !== 0) return;
    this.canvas.setPointerCapture(event.pointerId);
    this.drawing = true;
    this.strokeStart = this.points.length;
    this.add(this.toPlane(event));
    this.draw();
  }

  move(event) {
    if (!this.drawing) return;
    const point = this.toPlane(event);
    if (Math.hypot(point[0] - this.last[0], point[1] - this.last[1]) < STROKE_SPACING) return;
    if (this.add(point)) this.draw();
  }

  up() {
    if (!this.drawing) return;
    this.drawing = false;
    const added = this.points.length - this.strokeStart;
    if (added > 0) this.strokes.push(added);
    this.draw();
    this.onChange(this.points.map((p) => [...p]));
  }

  undo() {
    const n = this.strokes.pop();
    if (!n) return;
    this.points.splice(this.points.length - n, n);
    this.draw();
    this.onChange(this.points.map((p) => [...p]));
  }

  clear() {
    if (!this.points.length) return;
    this.points = [];
    this.strokes = [];
    this.draw();
    this.onChange([]);
  }

  draw() {
    const n = this.points.length;
    this.count.textContent = n >= this.max ? `${fmt.int(n)} points, the most a drawing holds`
      : n < this.min ? `${n} of at least ${this.min} points` : `${fmt.int(n)} points`;
    this.count.dataset.tone = n < this.min ? 'warn' : '';
    this.undoButton.disabled = !this.strokes.length;
    this.clearButton.disabled = !n;
    if (!this.size) return;
    const ctx = this.canvas.getContext('2d');
    const s = this.size;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.scale(this.canvas.width / s, this.canvas.height / s);
    ctx.fillStyle = css(MID, 0.55);
    ctx.fillRect(0, 0, s, s);
    // Faint unit grid and the axes through 0, so a drawing can be placed with care.
    const l = this.limit;
    const at = (v) => ((v + l) / (2 * l)) * s;
    ctx.lineWidth = 1;
    for (let v = -l + 2; v < l; v += 2) {
      ctx.strokeStyle = v === 0 ? 'rgba(29,35,48,0.18)' : 'rgba(29,35,48,0.06)';
      ctx.beginPath();
      ctx.moveTo(Math.round(at(v)) + 0.5, 0);
      ctx.lineTo(Math.round(at(v)) + 0.5, s);
      ctx.moveTo(0, Math.round(at(v)) + 0.5);
      ctx.lineTo(s, Math.round(at(v)) + 0.5);
      ctx.stroke();
    }
    ctx.fillStyle = css(REAL, 0.8);
    ctx.beginPath();
    for (const [x, y] of this.points) {
      const px = at(x);
      const py = s - at(y);
      ctx.moveTo(px + 2.4, py);
      ctx.arc(px, py, 2.4, 0, Math.PI * 2);
    }
    ctx.fill();
    if (!n) {
      ctx.fillStyle = 'rgba(29,35,48,0.45)';
      ctx.font = '12px system-ui, sans-serif';
      ctx.textAlign = 'center';
      ctx.fillText('Click or drag to place points', s / 2, s / 2 + 4);
    }
  }
}
