// Classification report (confusion matrix, per-class precision/recall/F1) and the table of
// tensor shapes and parameter counts per layer.

import { CATEGORICAL, css } from './palette.js';
import { h, fmt, setText } from './util.js';

/**
 * A report from the boundary image: each test point takes the class of its grid cell.
 * Used between the server's exact reports (it sends one with the final metrics point).
 */
export function estimateReport(points, boundary) {
  const { header, data } = points;
  const k = header.classes;
  if (!k || !boundary) return null;
  const shape = boundary.header.shape;
  const n = shape.at(-1);
  const [lo, hi] = header.domain;
  const start = header.n_test > 0 ? header.n_train : 0;
  const end = header.n_test > 0 ? header.n_train + header.n_test : header.n_train;
  const confusion = Array.from({ length: k }, () => new Array(k).fill(0));
  for (let i = start; i < end; i++) {
    const col = Math.min(n - 1, Math.max(0, Math.floor(((data[i * 3] - lo) / (hi - lo)) * n)));
    const row = Math.min(n - 1, Math.max(0, Math.floor(((hi - data[i * 3 + 1]) / (hi - lo)) * n)));
    const cell = boundary.data[row * n + col];
    const predicted = shape.length === 3 ? cell : (cell >= 128 ? 1 : 0);
    const truth = Math.round(data[i * 3 + 2]);
    if (truth < k && predicted < k) confusion[truth][predicted]++;
  }
  return fromConfusion(confusion);
}

export function fromConfusion(confusion) {
  const k = confusion.length;
  const support = confusion.map((row) => row.reduce((a, b) => a + b, 0));
  const predicted = confusion[0].map((_, j) => confusion.reduce((a, row) => a + row[j], 0));
  const tp = confusion.map((row, i) => row[i]);
  const div = (a, b) => (b > 0 ? a / b : 0);
  const precision = tp.map((t, i) => div(t, predicted[i]));
  const recall = tp.map((t, i) => div(t, support[i]));
  const f1 = tp.map((t, i) => div(2 * t, support[i] + predicted[i]));
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / k;
  const total = support.reduce((a, b) => a + b, 0);
  return {
    accuracy: div(tp.reduce((a, b) => a + b, 0), total), precision, recall, f1, support,
    macro_precision: mean(precision), macro_recall: mean(recall), macro_f1: mean(f1), confusion,
  };
}

export class ReportView {
  constructor(root) {
    this.root = root;
    this.note = h('p', { class: 'report-note' });
    this.matrix = h('div', { class: 'confusion', role: 'table', 'aria-label': 'Confusion matrix' });
    this.table = h('table', { class: 'per-class', 'aria-label': 'Precision, recall and F1 per class' });
    root.append(h('div', { class: 'report-grid' },
      h('div', {}, h('div', { class: 'mini-title' }, 'Confusion matrix (test set)'), this.matrix),
      h('div', {}, h('div', { class: 'mini-title' }, 'Per class'), this.table)), this.note);
    this.k = 0;
    this.empty('Press play: the report fills in as the network trains.');
  }

  empty(text) {
    this.k = 0;
    this.matrix.replaceChildren();
    this.table.replaceChildren();
    setText(this.note, text);
  }

  build(k) {
    this.k = k;
    const name = (i) => h('span', { class: 'swatch', style: `background:${css(CATEGORICAL[i % CATEGORICAL.length])}` });
    this.matrix.style.gridTemplateColumns = `auto repeat(${k}, 1fr)`;
    const cells = [h('div', { class: 'cm-corner' }, 'true ↓', h('br'), 'predicted →')];
    for (let j = 0; j < k; j++) cells.push(h('div', { class: 'cm-head' }, name(j), String(j)));
    this.cells = [];
    for (let i = 0; i < k; i++) {
      cells.push(h('div', { class: 'cm-head' }, name(i), String(i)));
      const row = [];
      for (let j = 0; j < k; j++) {
        const cell = h('div', { class: `cm-cell${i === j ? ' diag' : ''}`, role: 'cell' }, '0');
        row.push(cell);
        cells.push(cell);
      }
      this.cells.push(row);
    }
    this.matrix.replaceChildren(...cells);
    const head = h('tr', {}, ...['class', 'precision', 'recall', 'F1', 'support'].map((t) => h('th', {}, t)));
    this.rows = [];
    const body = [];
    for (let i = 0; i <= k; i++) {
      const tds = [0, 1, 2, 3].map(() => h('td', {}, '–'));
      this.rows.push(tds);
      body.push(h('tr', { class: i === k ? 'macro' : '' }, h('th', {}, i === k ? 'macro' : h('span', {}, name(i), String(i))), ...tds));
    }
    this.table.replaceChildren(h('thead', {}, head), h('tbody', {}, ...body));
  }

  /** Show a report; `exact` says whether the server computed it (else estimated). */
  update(report, { exact, step }) {
    if (!report) return;
    const k = report.confusion.length;
    if (k !== this.k) this.build(k);
    const max = Math.max(1, ...report.support);
    report.confusion.forEach((row, i) => row.forEach((count, j) => {
      const cell = this.cells[i][j];
      setText(cell, String(count));
      const share = count / max;
      cell.style.background = i === j
        ? `rgba(8, 119, 189, ${0.08 + share * 0.6})`
        : `rgba(214, 51, 108, ${count ? 0.08 + share * 0.6 : 0})`;
      cell.style.color = share > 0.55 ? 'white' : '';
    }));
    for (let i = 0; i < k; i++) {
      const r = this.rows[i];
      setText(r[0], fmt.pct(report.precision[i]));
      setText(r[1], fmt.pct(report.recall[i]));
      setText(r[2], fmt.pct(report.f1[i]));
      setText(r[3], String(report.support[i]));
    }
    const m = this.rows[k];
    setText(m[0], fmt.pct(report.macro_precision));
    setText(m[1], fmt.pct(report.macro_recall));
    setText(m[2], fmt.pct(report.macro_f1));
    setText(m[3], String(report.support.reduce((a, b) => a + b, 0)));
    setText(this.note, exact
      ? `Exact report from the server at step ${fmt.int(step)}.`
      : 'Live estimate: each test point takes the class of its cell in the boundary image. The server sends the exact report when the run ends.');
  }
}

export class LayersTable {
  constructor(root) {
    this.root = root;
    this.table = h('table', { class: 'layers-table', 'aria-label': 'Tensor shapes and parameters per layer' });
    root.append(this.table);
    this.clear();
  }

  clear() {
    this.table.replaceChildren(h('tbody', {}, h('tr', {}, h('td', { class: 'muted' }, 'Shapes appear once the network is built.'))));
  }

  update(layers) {
    if (!layers?.length) return this.clear();
    const total = layers.reduce((a, l) => a + l.parameters, 0);
    const head = h('tr', {}, ...['#', 'kind', 'activation', 'output', 'params'].map((t) => h('th', {}, t)));
    const rows = layers.map((l, i) => h('tr', {},
      h('td', {}, String(i)), h('td', {}, l.kind), h('td', {}, l.activation || '–'),
      h('td', { class: 'mono' }, l.shape || `(m, ${l.units})`), h('td', { class: 'num' }, fmt.int(l.parameters))));
    const foot = h('tr', { class: 'total' }, h('td', { colspan: 4 }, 'total'), h('td', { class: 'num' }, fmt.int(total)));
    this.table.replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows), h('tfoot', {}, foot));
  }
}
