// Races: one job per variant of a race preset, every run's curve on one chart, and a small
// boundary per run. Each run is an ordinary Session; play/pause/step/reset drive them all.
// The preset's `metric` says what the chart compares (test loss unless it says otherwise).

import { joinCurves, LineChart } from './charts.js';
import { HeatmapView } from './heatmap.js';
import { SERIES } from './palette.js';
import { Session } from './session.js';
import { FrameScheduler, h, fmt, setText, $ } from './util.js';

const X_FIELDS = { step: 'step', epoch: 'epoch', seconds: 'elapsed' };
const REDRAW_MS = 100; // the joined chart is rebuilt at most ten times a second

// What a race can compare: the title over the chart, the values drawn per run (the first is
// the run's main, solid line), how the legend shows the latest one, and whether a log scale fits.
const METRICS = {
  test_loss: {
    title: 'Test loss', fields: [(p) => p.test_loss ?? p.train_loss], format: fmt.loss, log: true,
  },
  test_accuracy: {
    title: 'Test accuracy', fields: [(p) => p.test_accuracy ?? p.train_accuracy], format: fmt.pct, log: false,
  },
  train_and_test_loss: {
    title: 'Test loss (solid) and training loss (dashed): the gap is overfitting',
    fields: [(p) => p.test_loss ?? null, (p) => p.train_loss], format: fmt.loss, log: true,
  },
};

export class RaceView {
  constructor(root, { onStatus, onError, onDraw }) {
    this.root = root;
    this.onStatus = onStatus;
    this.onDraw = onDraw;
    this.onError = onError;
    this.runs = [];
    this.xField = 'step';
    this.log = true;
    this.metric = METRICS.test_loss;
    this.scheduler = new FrameScheduler(() => this.draw());
    this.lastJoin = 0;
    this.chartRoot = $('#race-chart', root);
    this.legend = $('#race-legend', root);
    this.maps = $('#race-maps', root);
    $('#race-x', root).addEventListener('change', (e) => {
      this.xField = X_FIELDS[e.target.value];
      this.joinDirty = true;
      this.scheduler.request();
    });
    $('#race-log', root).addEventListener('change', (e) => {
      this.log = e.target.checked;
      this.chart?.setLog(this.log && this.metric.log);
      this.joinDirty = true;
      this.scheduler.request();
    });
  }

  get active() {
    return this.runs.length > 0;
  }

  get playing() {
    return this.runs.some((r) => r.session.playing);
  }

  get step() {
    return Math.max(0, ...this.runs.map((r) => r.session.step));
  }

  /** Start a race from a preset's `variants` (each a full spec with a label). */
  start(preset) {
    this.stop();
    $('#race-title', this.root).textContent = preset.title;
    const variants = preset.variants;
    this.metric = METRICS[preset.metric] || METRICS.test_loss;
    setText($('#race-metric', this.root), this.metric.title);
    this.chartRoot.setAttribute('aria-label', `${this.metric.title} of every run`);
    $('#race-log', this.root).disabled = !this.metric.log;
    const stroke = (i) => SERIES[i % SERIES.length];
    const series = variants.flatMap((v, i) => [
      { label: v.label, stroke: stroke(i), width: 2 },
      ...this.metric.fields.slice(1).map(() => ({ label: `${v.label} (train)`, stroke: stroke(i), width: 1.25, dash: [5, 4] })),
    ]);
    this.chartRoot.replaceChildren();
    this.chart = new LineChart(this.chartRoot, {
      height: 300, log: this.log && this.metric.log, legend: false, series,
      ...(this.metric.log ? {} : { yRange: [0, 1] }),
    });
    this.legend.replaceChildren();
    this.maps.replaceChildren();
    // Small multiples in one row where they fit.
    const width = this.maps.clientWidth || 900;
    this.mapSize = Math.max(96, Math.min(150, Math.floor((width - 12 * (variants.length - 1)) / variants.length) - 4));
    this.maps.style.gridTemplateColumns = `repeat(auto-fill, minmax(${this.mapSize + 4}px, 1fr))`;
    this.runs = variants.map((variant, i) => this.addRun(variant, i));
    this.joinDirty = true;
    this.scheduler.request();
  }

  addRun(variant, index) {
    const color = SERIES[index % SERIES.length];
    const value = h('span', { class: 'race-value' }, '–');
    const state = h('span', { class: 'race-state' }, '');
    const item = h('li', { class: 'race-item', dataset: { label: variant.label } },
      h('span', { class: 'swatch line', style: `background:${color}` }),
      h('span', { class: 'race-label' }, variant.label), value, state);
    this.legend.append(item);
    const mapRoot = h('figure', { class: 'race-map' });
    this.maps.append(mapRoot);
    const heatmap = new HeatmapView(mapRoot, { size: this.mapSize });
    mapRoot.append(h('figcaption', {}, h('span', { class: 'swatch', style: `background:${color}` }), variant.label));
    const run = { variant, points: [], heatmap, value, state, item, frames: {} };
    run.session = new Session({
      onReset: () => {
        run.points = [];
        heatmap.clear();
        this.joinDirty = true;
      },
      onMetrics: (points, history) => {
        if (history) run.points = [];
        const last = run.points.at(-1);
        for (const p of points) {
          if (last && p.step < last.step) continue;
          if (run.points.length && run.points.at(-1).step === p.step) run.points[run.points.length - 1] = p;
          else run.points.push(p);
        }
        this.joinDirty = true;
        this.scheduler.request();
      },
      onFrame: (frame) => {
        if (frame.header.type === 'points') heatmap.setPoints(frame);
        else if (frame.header.type === 'boundary') heatmap.setBoundary(frame);
        this.scheduler.request();
      },
      onStatus: () => {
        this.renderState(run);
        this.onStatus?.();
      },
      onError: (error) => this.onError?.(`${variant.label}: ${error.message}`),
      onMessageError: (text) => this.onError?.(`${variant.label}: ${text}`),
    });
    run.session.load(variant.spec);
    return run;
  }

  renderState(run) {
    const job = run.session.job;
    const failed = job?.status === 'failed';
    run.item.classList.toggle('failed', failed);
    // "diverged at step N", N as the reason gives it (the step the loss stopped being finite).
    const at = /at step (\d+)/.exec(job?.reason || '')?.[1] ?? job?.step;
    const why = /diverged/.test(job?.reason || '') ? `diverged at step ${at}` : 'failed';
    setText(run.state, failed ? why : job?.status === 'completed' ? 'done' : '');
    run.state.title = failed ? job.reason || '' : '';
    run.heatmap.showBanner(failed ? why : '');
  }

  play() { for (const r of this.runs) r.session.play(); }
  pause() { for (const r of this.runs) r.session.pause(); }
  toggle() { if (this.playing) this.pause(); else this.play(); }
  stepOnce() { for (const r of this.runs) r.session.stepOnce(); }
  reset() { for (const r of this.runs) r.session.reset(); }

  stop() {
    for (const r of this.runs) r.session.end(); // trained runs stay (stopped) in Runs
    this.runs = [];
  }

  draw() {
    this.onDraw?.();
    for (const run of this.runs) run.heatmap.draw();
    const now = performance.now();
    if (this.joinDirty && now - this.lastJoin >= REDRAW_MS) {
      this.joinDirty = false;
      this.lastJoin = now;
      const { fields, format } = this.metric;
      const joined = joinCurves(this.runs.map((run) => run.points), this.xField, fields);
      this.chart?.setData(joined);
      for (const run of this.runs) {
        const last = run.points.at(-1);
        setText(run.value, last ? format(fields[0](last)) : '–');
      }
    } else if (this.joinDirty && !this.retry) {
      this.retry = setTimeout(() => {
        this.retry = null;
        this.scheduler.request();
      }, REDRAW_MS);
    }
    this.chart?.draw();
  }
}
