// The network diagram: input features, hidden neurons (each with its own heatmap), output,
// and links whose width and colour show the weights. The DOM is built when the structure
// changes; a frame only repaints the neuron canvases and re-styles the links.

import { diverging, css, CATEGORICAL } from './palette.js';
import { paintGrid } from './heatmap.js';
import { dropoutOf, hasBatchNorm } from './layers.js';
import { h, fmt } from './util.js';

const SVG = 'http://www.w3.org/2000/svg';
const HEAD = 106; // height of the column headers
const LEFT = 62; // room for the feature labels
const RIGHT = 24;
const MIN_SPACING = 106;
const MAX_ROWS = 14; // neurons drawn per column; the rest are summarised
const PREVIEW = 24; // resolution of the input-feature thumbnails

// What each input feature looks like over the plane, for the thumbnails only (the server
// computes the real inputs). Unknown features show a flat tile.
const FEATURE_SHAPES = {
  x1: (a) => a,
  x2: (a, b) => b,
  x1_sq: (a) => a * a,
  x2_sq: (a, b) => b * b,
  x1x2: (a, b) => a * b,
  sin_x1: (a) => Math.sin(a),
  sin_x2: (a, b) => Math.sin(b),
};

const DROPOUT_CHOICES = [0, 0.1, 0.2, 0.3, 0.5];

function featurePreview(name, domain = [-6, 6]) {
  const fn = FEATURE_SHAPES[name] || (() => 0);
  const [lo, hi] = domain;
  const values = new Float32Array(PREVIEW * PREVIEW);
  let max = 1e-9;
  for (let r = 0; r < PREVIEW; r++) {
    for (let c = 0; c < PREVIEW; c++) {
      const x1 = lo + ((c + 0.5) / PREVIEW) * (hi - lo);
      const x2 = hi - ((r + 0.5) / PREVIEW) * (hi - lo);
      const v = fn(x1, x2);
      values[r * PREVIEW + c] = v;
      max = Math.max(max, Math.abs(v));
    }
  }
  const bytes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) bytes[i] = Math.round(((values[i] / max) + 1) * 127.5);
  return { header: { shape: [PREVIEW, PREVIEW], value_range: [-1, 1] }, data: bytes };
}

export class NetworkView {
  /**
   * onEdit({kind, index, value}): kind in feature, units, activation, dropout, batchnorm.
   * onHoverNeuron({layer, unit, label} | null).
   */
  constructor(root, { catalog, onEdit, onHoverNeuron }) {
    this.root = root;
    this.catalog = catalog;
    this.onEdit = onEdit;
    this.onHoverNeuron = onHoverNeuron;
    this.inner = h('div', { class: 'net-inner' });
    this.heads = h('div', { class: 'net-heads' });
    this.svg = document.createElementNS(SVG, 'svg');
    this.svg.setAttribute('class', 'net-links');
    this.nodesLayer = h('div', { class: 'net-nodes' });
    this.tip = h('div', { class: 'net-tip', role: 'tooltip', hidden: true });
    this.inner.append(this.svg, this.nodesLayer, this.heads, this.tip);
    root.append(this.inner);
    this.model = null;
    this.neurons = null; // latest neurons frame
    this.weights = null; // latest weights frame
    this.boundary = null;
    this.links = [];
    this.width = root.clientWidth || 560;
    new ResizeObserver(() => {
      const width = root.clientWidth;
      if (width && Math.abs(width - this.width) > 4) {
        this.width = width;
        if (this.model) this.render(this.model);
      }
    }).observe(root);
    this.svg.addEventListener('mousemove', (e) => this.hoverLink(e));
    this.svg.addEventListener('mouseleave', () => this.hideTip());
  }

  /**
   * model: {features: [{name, label, on, index}], groups: [{units, activation, after}],
   *         outputs, classes, task}
   */
  render(model) {
    this.model = model;
    const { features, groups } = model;
    const outputs = model.outputs || 1;
    const columns = [features.length, ...groups.map((g) => g.dense.units), outputs];
    const rows = Math.min(MAX_ROWS, Math.max(...columns));
    const size = rows > 10 ? 24 : 30;
    const gap = rows > 10 ? 7 : 9;
    const count = columns.length;
    const spacing = Math.max(MIN_SPACING, (this.width - LEFT - RIGHT - size) / (count - 1));
    const width = Math.max(this.width, LEFT + RIGHT + size + spacing * (count - 1));
    const height = HEAD + rows * (size + gap) + 14;
    Object.assign(this.inner.style, { width: `${width}px`, height: `${height}px` });
    this.svg.setAttribute('width', width);
    this.svg.setAttribute('height', height);
    this.svg.replaceChildren();
    this.nodesLayer.replaceChildren();
    this.heads.replaceChildren();
    this.links = [];
    this.layout = { size, gap, spacing };

    const colX = (c) => LEFT + c * spacing;
    const rowY = (r) => HEAD + r * (size + gap);
    // positions[c][i] = {x, y, index} for every drawn node of column c
    const positions = columns.map((n, c) => {
      const shown = Math.min(n, n > MAX_ROWS ? MAX_ROWS - 1 : MAX_ROWS);
      return Array.from({ length: shown }, (_, i) => ({ x: colX(c), y: rowY(i), index: i }));
    });

    // Inputs: every feature, the unused ones faded; the used ones carry links.
    this.heads.append(h('div', { class: 'net-head net-head-input', style: `left:${colX(0) - LEFT + 4}px` },
      h('div', { class: 'net-head-title' }, 'Features'),
      h('div', { class: 'net-head-note' }, 'Click to use or drop an input')));
    features.forEach((feature, i) => {
      const { x, y } = positions[0][i];
      const canvas = h('canvas', { class: 'node-canvas' });
      const preview = featurePreview(feature.name);
      paintGrid(canvas, preview.header, preview.data);
      const node = h('button', {
        class: `node node-input${feature.on ? ' on' : ''}`, type: 'button', role: 'switch',
        'aria-checked': feature.on ? 'true' : 'false', 'aria-label': `Feature ${feature.label}`,
        style: `left:${x}px;top:${y}px;width:${size}px;height:${size}px`,
        onclick: () => this.onEdit({ kind: 'feature', value: feature.name }),
      }, canvas);
      const label = h('span', { class: `node-label${feature.on ? '' : ' off'}`, style: `top:${y + size / 2}px;right:${width - x + 8}px` }, feature.label);
      this.nodesLayer.append(node, label);
    });

    // Hidden layers: a header with the layer's controls, then one canvas per neuron.
    this.neuronCanvases = [];
    groups.forEach((group, g) => {
      const c = g + 1;
      this.heads.append(this.layerHead(group, g, colX(c) + size / 2));
      const canvases = [];
      for (const { x, y, index } of positions[c]) {
        const canvas = h('canvas', { class: 'node-canvas' });
        const node = h('div', {
          class: 'node node-hidden', tabindex: '0', 'aria-label': `Layer ${g + 1} neuron ${index + 1}`,
          dataset: { layer: g, unit: index },
          style: `left:${x}px;top:${y}px;width:${size}px;height:${size}px`,
        }, canvas);
        node.addEventListener('mouseenter', () => this.hoverNeuron(g, index, node));
        node.addEventListener('focus', () => this.hoverNeuron(g, index, node));
        node.addEventListener('mouseleave', () => this.leaveNeuron());
        node.addEventListener('blur', () => this.leaveNeuron());
        this.nodesLayer.append(node);
        canvases.push(canvas);
      }
      this.neuronCanvases.push(canvases);
      const hidden = group.dense.units - positions[c].length;
      if (hidden > 0) {
        this.nodesLayer.append(h('div', {
          class: 'node-more', style: `left:${colX(c) - 10}px;top:${rowY(positions[c].length)}px;width:${size + 20}px`,
        }, `+${hidden} more`));
      }
    });

    // Output: the boundary itself for one output unit, class swatches for several.
    const out = count - 1;
    this.heads.append(h('div', { class: 'net-head net-head-output', style: `left:${colX(out) + size / 2}px` },
      h('div', { class: 'net-head-title' }, 'Output'),
      h('div', { class: 'net-head-note' }, outputs === 1 ? '1 unit' : `${outputs} units`)));
    this.outputCanvas = null;
    positions[out].forEach(({ x, y, index }) => {
      let inside = null;
      if (outputs === 1) {
        this.outputCanvas = inside = h('canvas', { class: 'node-canvas' });
      }
      const color = outputs > 1 ? css(CATEGORICAL[index % CATEGORICAL.length]) : null;
      this.nodesLayer.append(h('div', {
        class: 'node node-output', 'aria-label': outputs === 1 ? 'Output' : `Output unit ${index + 1}`,
        style: `left:${x}px;top:${y}px;width:${size}px;height:${size}px${color ? `;background:${color}` : ''}`,
      }, inside));
    });

    // Links between consecutive columns, drawn under the nodes.
    const spec = features.filter((f) => f.on).sort((a, b) => a.index - b.index);
    const inputRows = new Map(features.map((f, i) => [f.name, i]));
    for (let c = 0; c < count - 1; c++) {
      const from = c === 0
        ? spec.map((f) => ({ ...positions[0][inputRows.get(f.name)], index: f.index, name: f.label }))
        : positions[c];
      for (const a of from) {
        for (const b of positions[c + 1]) {
          const x1 = a.x + size;
          const y1 = a.y + size / 2;
          const x2 = b.x;
          const y2 = b.y + size / 2;
          const dx = (x2 - x1) / 2;
          const d = `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
          const path = document.createElementNS(SVG, 'path');
          path.setAttribute('d', d);
          path.setAttribute('class', 'link');
          const hit = document.createElementNS(SVG, 'path');
          hit.setAttribute('d', d);
          hit.setAttribute('class', 'link-hit');
          hit.dataset.link = String(this.links.length);
          this.svg.append(path);
          this.links.push({ path, hit, layer: c, from: a.index, to: b.index, fromName: a.name });
        }
      }
    }
    // Hit areas above every visible link so thin links are still easy to hover.
    for (const link of this.links) this.svg.append(link.hit);
    this.names = { spec };
    this.paint();
  }

  layerHead(group, g, centre) {
    const max = this.catalog.limits.max_units;
    const label = `layer ${g + 1}`;
    const select = (aria, group, options, value, onchange) => h('select', { 'aria-label': aria, onchange, dataset: group },
      options.map(([v, text]) => h('option', { value: v, selected: String(v) === String(value) }, text)));
    const units = group.dense.units;
    return h('div', { class: 'net-head net-head-layer', style: `left:${centre}px` },
      h('div', { class: 'stepper', dataset: { group: 'layers' } },
        h('button', { type: 'button', 'aria-label': `Remove a neuron from ${label}`, disabled: units <= 1,
          onclick: () => this.onEdit({ kind: 'units', index: g, value: -1 }) }, '−'),
        h('div', { class: 'net-head-title' }, `${units} ${units === 1 ? 'neuron' : 'neurons'}`),
        h('button', { type: 'button', 'aria-label': `Add a neuron to ${label}`, disabled: units >= max,
          onclick: () => this.onEdit({ kind: 'units', index: g, value: 1 }) }, '+')),
      select(`Activation of ${label}`, { group: 'activation' }, this.catalog.activations.map((a) => [a.name, a.label]),
        group.dense.activation, (e) => this.onEdit({ kind: 'activation', index: g, value: e.target.value })),
      select(`Dropout after ${label}`, { group: 'dropout', groupLabel: 'Dropout and batch norm' }, DROPOUT_CHOICES.map((p) => [p, p ? `dropout ${p}` : 'no dropout'])
        .concat(DROPOUT_CHOICES.includes(dropoutOf(group)) ? [] : [[dropoutOf(group), `dropout ${dropoutOf(group)}`]]),
      dropoutOf(group), (e) => this.onEdit({ kind: 'dropout', index: g, value: Number(e.target.value) })),
      h('label', { class: 'bn-toggle', dataset: { group: 'dropout' } },
        h('input', { type: 'checkbox', checked: hasBatchNorm(group), 'aria-label': `Batch norm after ${label}`,
          onchange: (e) => this.onEdit({ kind: 'batchnorm', index: g, value: e.target.checked }) }),
        'batch norm'));
  }

  setFrames({ neurons, weights, boundary }) {
    if (neurons) this.neurons = neurons;
    if (weights) this.weights = weights;
    if (boundary) this.boundary = boundary;
  }

  clear() {
    this.neurons = this.weights = this.boundary = null;
    for (const link of this.links) link.path.removeAttribute('style');
  }

  /** Repaint neurons, output and links from the latest frames (requestAnimationFrame). */
  paint() {
    if (!this.model) return;
    const neurons = this.neurons;
    if (neurons && this.neuronCanvases) {
      const sizes = neurons.header.layer_sizes;
      const [, g1, g2] = neurons.header.shape;
      const cell = g1 * g2;
      const sub = { shape: [g1, g2], value_range: neurons.header.value_range };
      let offset = 0;
      sizes.forEach((units, layer) => {
        const canvases = this.neuronCanvases[layer];
        if (canvases) {
          canvases.forEach((canvas, unit) => {
            if (unit < units) paintGrid(canvas, sub, neurons.data.subarray((offset + unit) * cell, (offset + unit + 1) * cell));
          });
        }
        offset += units;
      });
    }
    if (this.boundary && this.outputCanvas && this.boundary.header.shape.length === 2) {
      paintGrid(this.outputCanvas, this.boundary.header, this.boundary.data);
    }
    const weights = this.weights;
    if (weights) {
      const layers = weights.header.layers;
      const offsets = [];
      let offset = 0;
      for (const layer of layers) {
        const [out, inp] = layer.weight;
        offsets.push({ w: offset, inp, out });
        offset += out * inp + layer.bias[0];
      }
      for (const link of this.links) {
        const o = offsets[link.layer];
        if (!o || link.to >= o.out || link.from >= o.inp) continue;
        const w = weights.data[o.w + link.to * o.inp + link.from];
        // Same scale as the heatmaps, with a floor so that small weights stay visible.
        const shade = Math.sign(w) * (0.3 + 0.7 * Math.min(Math.abs(w), 1));
        link.path.style.stroke = css(diverging(shade));
        link.path.style.strokeWidth = (0.6 + Math.min(Math.abs(w), 3) * 1.8).toFixed(2);
      }
    }
  }

  /** The weight and bias values of a link or neuron from the latest weights frame. */
  value(layer, out, inp) {
    const weights = this.weights;
    if (!weights) return null;
    let offset = 0;
    const layers = weights.header.layers;
    for (let l = 0; l < layers.length; l++) {
      const [o, i] = layers[l].weight;
      if (l === layer) {
        if (inp === null) return out < o ? weights.data[offset + o * i + out] : null;
        return out < o && inp < i ? weights.data[offset + out * i + inp] : null;
      }
      offset += o * i + layers[l].bias[0];
    }
    return null;
  }

  /** A hidden neuron's grid from the latest neurons frame, for the big heatmap. */
  neuronGrid(layer, unit) {
    const neurons = this.neurons;
    if (!neurons) return null;
    const sizes = neurons.header.layer_sizes;
    if (layer >= sizes.length || unit >= sizes[layer]) return null;
    const index = sizes.slice(0, layer).reduce((a, b) => a + b, 0) + unit;
    const [, g1, g2] = neurons.header.shape;
    return {
      header: { shape: [g1, g2], value_range: neurons.header.value_range },
      data: neurons.data.subarray(index * g1 * g2, (index + 1) * g1 * g2),
    };
  }

  hoverNeuron(layer, unit, node) {
    const bias = this.value(layer, unit, null);
    const label = `Layer ${layer + 1}, neuron ${unit + 1}`;
    this.showTip(`${label}${bias === null ? '' : ` · bias ${fmt.num(bias)}`}`,
      node.offsetLeft + node.offsetWidth + 8, node.offsetTop);
    this.onHoverNeuron?.({ layer, unit, label });
  }

  leaveNeuron() {
    this.hideTip();
    this.onHoverNeuron?.(null);
  }

  hoverLink(event) {
    const index = event.target?.dataset?.link;
    if (index === undefined) {
      this.hideTip();
      return;
    }
    const link = this.links[Number(index)];
    const w = this.value(link.layer, link.to, link.from);
    const groups = this.model.groups.length;
    const from = link.layer === 0 ? link.fromName : `L${link.layer} n${link.from + 1}`;
    const to = link.layer === groups ? `output ${this.model.outputs > 1 ? link.to + 1 : ''}`.trim() : `L${link.layer + 1} n${link.to + 1}`;
    const rect = this.inner.getBoundingClientRect();
    this.showTip(`Weight ${w === null ? '–' : fmt.num(w)} · ${from} → ${to}`,
      event.clientX - rect.left + 12, event.clientY - rect.top + 12);
    for (const l of this.links) l.path.classList.toggle('hot', l === link);
  }

  showTip(text, x, y) {
    this.tip.textContent = text;
    this.tip.hidden = false;
    this.tip.style.left = `${x}px`;
    this.tip.style.top = `${y}px`;
  }

  hideTip() {
    this.tip.hidden = true;
    for (const l of this.links) l.path.classList.remove('hot');
  }
}
