// Training curves with uPlot: loss (train and test, optional log scale) and accuracy.
// Points are appended in place; the chart redraws at most once per animation frame.

import { h } from './util.js';

const MAX_POINTS = 20000; // past this, every other point is dropped (the shape stays)

const AXIS = {
  stroke: '#6b7280',
  grid: { stroke: '#eceef1', width: 1 },
  ticks: { stroke: '#e2e5ea', width: 1, size: 4 },
  font: '11px system-ui, -apple-system, "Segoe UI", sans-serif',
};

/** Compact tick labels: 1k, 0.01, 1e-4. */
export function tick(v) {
  if (v === null || v === undefined) return '';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e5) return v.toExponential(0);
  if (a >= 1000) return `${+(v / 1000).toFixed(1)}k`;
  if (a < 0.001) return v.toExponential(0);
  return String(+v.toPrecision(2));
}

/**
 * A uPlot line chart that follows its container's width. A series with `scale: 'y2'` is read
 * on a second axis at the right (`y2Range`, `y2Format` for its labels, e.g. percentages).
 */
export class LineChart {
  constructor(root, { series, height = 128, log = false, yRange = null, xLabel = 'step', legend = false,
    y2Range = [0, 1], y2Format = tick }) {
    this.root = root;
    this.seriesDefs = series;
    this.height = height;
    this.log = log;
    this.yRange = yRange;
    this.y2Range = y2Range;
    this.y2Format = y2Format;
    this.xLabel = xLabel;
    this.legend = legend;
    this.data = [[], ...series.map(() => [])];
    this.box = h('div', { class: 'chart-box' });
    root.append(this.box);
    this.build();
    new ResizeObserver(() => this.fit()).observe(root);
  }

  options() {
    const yRange = this.yRange;
    const right = this.seriesDefs.some((s) => s.scale === 'y2');
    return {
      width: Math.max(120, this.root.clientWidth),
      height: this.height,
      legend: { show: this.legend },
      cursor: { drag: { x: false, y: false }, points: { size: 5 } },
      scales: {
        x: { time: false },
        y: this.log
          ? { distr: 3, log: 10 }
          : { range: yRange || ((u, min, max) => [Math.min(0, min), max > 0 ? max * 1.05 : 1]) },
        ...(right ? { y2: { range: this.y2Range } } : {}),
      },
      axes: [
        { ...AXIS, values: (u, vals) => vals.map(tick), size: 26 },
        {
          ...AXIS,
          values: (u, vals) => vals.map(tick),
          // Wide enough for the longest label (a diverging loss reads 1e+36).
          size: (u, values) => 14 + 6.5 * Math.max(3, ...(values || []).map((v) => String(v).length)),
        },
        ...(right ? [{
          ...AXIS, scale: 'y2', side: 1, grid: { show: false },
          values: (u, vals) => vals.map(this.y2Format),
          size: (u, values) => 18 + 6.5 * Math.max(3, ...(values || []).map((v) => String(v).length)),
        }] : []),
      ],
      series: [
        { label: this.xLabel },
        ...this.seriesDefs.map((s) => ({
          label: s.label, stroke: s.stroke, width: s.width ?? 1.75, dash: s.dash, scale: s.scale || 'y',
          spanGaps: true, points: { show: s.points ?? false, size: 6 },
          value: (u, v) => (v === null || v === undefined ? '–' : v.toPrecision(3)),
        })),
      ],
    };
  }

  build() {
    this.chart?.destroy();
    this.chart = new window.uPlot(this.options(), this.plotted(), this.box);
  }

  fit() {
    const width = this.root.clientWidth;
    if (width && this.chart && Math.abs(this.chart.width - width) > 2) {
      this.chart.setSize({ width, height: this.height });
    }
  }

  setLog(log) {
    if (log === this.log) return;
    this.log = log;
    this.build();
  }

  /** Change the lines drawn (e.g. which runs are compared); the data follows with setData. */
  setSeries(series) {
    this.seriesDefs = series;
    this.data = [[], ...series.map(() => [])];
    this.build();
  }

  /** Log scales cannot show zero or negative values. */
  plotted() {
    if (!this.log) return this.data;
    return [this.data[0], ...this.data.slice(1).map((ys, i) => (this.seriesDefs[i].scale === 'y2' ? ys
      : ys.map((v) => (v > 0 ? v : null))))];
  }

  clear() {
    this.data = [[], ...this.seriesDefs.map(() => [])];
    this.dirty = true;
  }

  /** Replace all data (columns aligned on x). */
  setData(data) {
    this.data = data;
    this.dirty = true;
  }

  /** Append a row: x and one value per series; an equal x replaces the last row. */
  push(x, values) {
    const xs = this.data[0];
    const last = xs.length - 1;
    if (last >= 0 && x < xs[last]) return;
    if (last >= 0 && x === xs[last]) {
      values.forEach((v, i) => { this.data[i + 1][last] = v; });
    } else {
      xs.push(x);
      values.forEach((v, i) => this.data[i + 1].push(v));
      if (xs.length > MAX_POINTS) this.data = this.data.map((col) => col.filter((_, i) => i % 2 === 0 || i === col.length - 1));
    }
    this.dirty = true;
  }

  get length() {
    return this.data[0].length;
  }

  draw() {
    if (!this.dirty || !this.chart) return;
    this.dirty = false;
    this.chart.setData(this.plotted());
  }
}

/**
 * Curves of several runs on one x axis: per run, its points and the values to draw
 * (`fields`, functions of a point). Returns uPlot columns: x, then run 0's fields, run 1's...
 * Points whose x does not increase are skipped (a late duplicate, or a restart).
 */
export function joinCurves(runs, xField, fields) {
  const tables = runs.map((points) => {
    const xs = [];
    const columns = fields.map(() => []);
    for (const p of points) {
      const x = p[xField];
      if (x === undefined || x === null || (xs.length && x <= xs.at(-1))) continue;
      xs.push(x);
      fields.forEach((field, i) => columns[i].push(field(p) ?? null));
    }
    return [xs, ...columns];
  });
  if (!tables.some((t) => t[0].length)) return [[], ...tables.flatMap((t) => t.slice(1).map(() => []))];
  return window.uPlot.join(tables);
}

export const TRAIN_STROKE = '#9aa3af';
export const TEST_STROKE = '#1d2330';

/** Loss and accuracy curves of one run. */
export class CurvesView {
  constructor(lossRoot, accuracyRoot, { log = false, height = 128, accuracyHeight = height } = {}) {
    this.loss = new LineChart(lossRoot, {
      log, height,
      series: [
        { label: 'Training loss', stroke: TRAIN_STROKE, width: 1.5 },
        { label: 'Test loss', stroke: TEST_STROKE, width: 2 },
      ],
    });
    this.accuracy = new LineChart(accuracyRoot, {
      yRange: [0, 1], height: accuracyHeight,
      series: [
        { label: 'Training accuracy', stroke: TRAIN_STROKE, width: 1.5 },
        { label: 'Test accuracy', stroke: TEST_STROKE, width: 2 },
      ],
    });
  }

  clear() {
    this.loss.clear();
    this.accuracy.clear();
  }

  add(points, history) {
    if (history) this.clear();
    for (const p of points) {
      this.loss.push(p.step, [p.train_loss ?? null, p.test_loss ?? null]);
      if (p.train_accuracy !== undefined) this.accuracy.push(p.step, [p.train_accuracy ?? null, p.test_accuracy ?? null]);
    }
  }

  setLog(log) {
    this.loss.setLog(log);
  }

  draw() {
    this.loss.draw();
    this.accuracy.draw();
  }
}
