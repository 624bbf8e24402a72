// The big output view: the decision boundary / regression surface as a smoothly scaled
// image, with the data points on a layer of their own (redrawn only when they change).

import { CATEGORICAL, DIVERGING_GRADIENT, byteLUT, classLUT, css, pointColor } from './palette.js';
import { fitCanvas, h, fmt } from './util.js';

const TEST_STROKE = 'rgba(29, 35, 48, 0.85)'; // test points: dark rim, like TensorFlow Playground
const images = new WeakMap(); // canvas -> its reusable ImageData

/**
 * Paint a uint8 grid into `canvas` at the grid's own resolution (CSS or drawImage scales it).
 * Shapes: (n, n) values (header.value_range says what 0 and 255 mean), or (2, n, n) for more
 * than two classes: plane 0 the class id, plane 1 the confidence.
 */
export function paintGrid(canvas, header, data, discrete = false) {
  const shape = header.shape;
  const n = shape.at(-1);
  const rows = shape.at(-2);
  if (canvas.width !== n || canvas.height !== rows) {
    canvas.width = n;
    canvas.height = rows;
  }
  const ctx = canvas.getContext('2d');
  let image = images.get(canvas);
  if (!image || image.width !== n || image.height !== rows) {
    image = ctx.createImageData(n, rows);
    images.set(canvas, image);
  }
  const out = image.data;
  const cells = n * rows;
  if (shape.length === 3) {
    const lut = classLUT(Math.max(header.classes || 3, 2), discrete);
    for (let i = 0; i < cells; i++) {
      const j = (data[i] * 256 + data[cells + i]) * 4;
      const o = i * 4;
      out[o] = lut[j]; out[o + 1] = lut[j + 1]; out[o + 2] = lut[j + 2]; out[o + 3] = 255;
    }
  } else {
    const [lo, hi] = header.value_range || [-1, 1];
    const levels = discrete ? (header.classes === 2 ? 1 : 5) : 0;
    const lut = byteLUT(lo, hi, levels);
    for (let i = 0; i < cells; i++) {
      const j = data[i] * 4;
      const o = i * 4;
      out[o] = lut[j]; out[o + 1] = lut[j + 1]; out[o + 2] = lut[j + 2]; out[o + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
}

export class HeatmapView {
  constructor(root, { size = 320, onHover = null } = {}) {
    this.size = size;
    this.root = root;
    this.base = h('canvas', { class: 'hm-base', 'aria-label': 'Decision boundary heatmap', role: 'img' });
    this.points = h('canvas', { class: 'hm-points', 'aria-hidden': 'true' });
    this.caption = h('div', { class: 'hm-caption', hidden: true });
    this.readout = h('div', { class: 'hm-readout', hidden: true });
    this.banner = h('div', { class: 'hm-banner', role: 'alert', hidden: true });
    this.frame = h('div', { class: 'hm-frame' }, this.base, this.points, this.caption, this.readout, this.banner);
    this.axisX = h('div', { class: 'hm-axis hm-axis-x' });
    this.axisY = h('div', { class: 'hm-axis hm-axis-y' });
    root.append(h('div', { class: 'hm-wrap' }, this.axisY, this.frame, this.axisX));
    // The grid is painted at its own resolution here and scaled up by drawImage.
    this.grid = document.createElement('canvas');
    this.boundary = null;
    this.neuron = null;
    this.pointData = null;
    this.options = { showTest: false, discretize: false };
    this.dirty = false;
    this.onHover = onHover;
    this.frame.addEventListener('mousemove', (e) => this.hover(e));
    this.frame.addEventListener('mouseleave', () => { this.readout.hidden = true; });
    this.resize(size);
  }

  resize(size) {
    this.size = size;
    this.frame.style.width = `${size}px`;
    this.frame.style.height = `${size}px`;
    fitCanvas(this.base, size, size);
    fitCanvas(this.points, size, size);
    this.dirty = true;
    this.drawPoints();
    this.draw();
  }

  setOptions(options) {
    const pointsChanged = options.showTest !== this.options.showTest;
    this.options = { ...this.options, ...options };
    this.dirty = true;
    if (pointsChanged) this.drawPoints();
  }

  setBoundary(frame) {
    this.boundary = frame;
    this.dirty = true;
  }

  setPoints(frame) {
    this.pointData = frame;
    this.domain = frame.header.domain;
    this.drawAxes();
    this.drawPoints();
  }

  /** Show one hidden neuron's output instead of the network's (null to go back). */
  showNeuron(neuron) {
    this.neuron = neuron;
    this.caption.hidden = !neuron;
    if (neuron) this.caption.textContent = neuron.label;
    this.dirty = true;
  }

  showBanner(text) {
    this.banner.hidden = !text;
    this.banner.textContent = text || '';
  }

  clear() {
    this.boundary = null;
    this.pointData = null;
    this.neuron = null;
    this.caption.hidden = true;
    this.showBanner('');
    this.base.getContext('2d').clearRect(0, 0, this.base.width, this.base.height);
    this.points.getContext('2d').clearRect(0, 0, this.points.width, this.points.height);
    this.dirty = false;
  }

  drawAxes() {
    const [lo, hi] = this.domain || [-6, 6];
    const ticks = [lo, (lo + hi) / 2, hi].map((v) => h('span', {}, fmt.num(v)));
    this.axisX.replaceChildren(...ticks);
    this.axisY.replaceChildren(...ticks.map((t) => t.cloneNode(true)).reverse());
  }

  /** Draw the latest frame (called from requestAnimationFrame). */
  draw() {
    if (!this.dirty) return;
    this.dirty = false;
    const source = this.neuron || this.boundary;
    const ctx = this.base.getContext('2d');
    if (!source) {
      ctx.clearRect(0, 0, this.base.width, this.base.height);
      return;
    }
    paintGrid(this.grid, source.header, source.data, this.options.discretize && !this.neuron);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(this.grid, 0, 0, this.base.width, this.base.height);
  }

  drawPoints() {
    const ctx = this.points.getContext('2d');
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.points.width, this.points.height);
    const frame = this.pointData;
    if (!frame) return;
    const { header, data } = frame;
    const ratio = this.points.width / this.size;
    ctx.scale(ratio, ratio);
    const [lo, hi] = header.domain;
    const span = hi - lo;
    const size = this.size;
    const classes = header.classes;
    const extent = Math.max(...header.target_range.map(Math.abs)) || 1;
    const radius = size > 250 ? 3.2 : 2.2;
    const draw = (start, end, stroke) => {
      ctx.lineWidth = stroke === TEST_STROKE ? 1.2 : 1;
      ctx.strokeStyle = stroke;
      for (let i = start; i < end; i++) {
        const x = ((data[i * 3] - lo) / span) * size;
        const y = ((hi - data[i * 3 + 1]) / span) * size;
        ctx.beginPath();
        ctx.arc(x, y, radius, 0, Math.PI * 2);
        ctx.fillStyle = css(pointColor(data[i * 3 + 2], classes, extent));
        ctx.fill();
        ctx.stroke();
      }
    };
    // Regression targets near zero are nearly white: give them a visible rim.
    draw(0, header.n_train, classes >= 2 ? 'white' : 'rgba(29, 35, 48, 0.45)');
    if (this.options.showTest) draw(header.n_train, header.n_train + header.n_test, TEST_STROKE);
  }

  /** What the output is under the pointer, in words. */
  hover(event) {
    const rect = this.frame.getBoundingClientRect();
    const fx = (event.clientX - rect.left) / rect.width;
    const fy = (event.clientY - rect.top) / rect.height;
    const [lo, hi] = this.domain || [-6, 6];
    const x1 = lo + fx * (hi - lo);
    const x2 = hi - fy * (hi - lo);
    const source = this.neuron || this.boundary;
    let value = '';
    if (source) {
      const shape = source.header.shape;
      const n = shape.at(-1);
      const col = Math.min(n - 1, Math.max(0, Math.floor(fx * n)));
      const row = Math.min(n - 1, Math.max(0, Math.floor(fy * n)));
      const cell = row * n + col;
      if (shape.length === 3) {
        value = `class ${source.data[cell]} (${fmt.pct(source.data[n * n + cell] / 255)})`;
      } else {
        const [vlo, vhi] = source.header.value_range;
        value = fmt.num(vlo + (source.data[cell] / 255) * (vhi - vlo));
      }
    }
    this.readout.hidden = false;
    this.readout.textContent = `x₁ ${x1.toFixed(1)}, x₂ ${x2.toFixed(1)}${value ? ` → ${value}` : ''}`;
  }
}

/** The heatmap's colour key: low/high for regression, one swatch per class, or the two classes. */
export function renderLegend(legend, spec, info) {
  const swatch = (i) => h('span', { class: 'legend-class' }, h('span', { class: 'swatch', style: `background:${css(CATEGORICAL[i])}` }), `class ${i}`);
  const bar = () => h('span', { class: 'legend-bar', style: `background:${DIVERGING_GRADIENT}` });
  if (spec.task === 'regression') {
    legend.replaceChildren(h('span', {}, 'low'), bar(), h('span', {}, 'high'));
  } else if (info?.multi_class) {
    legend.replaceChildren(...Array.from({ length: spec.dataset.classes }, (_, i) => swatch(i)));
  } else {
    legend.replaceChildren(swatch(0), bar(), swatch(1));
  }
}
