// Races: one job per variant of a race preset, all test-loss curves on one chart, and a small
// boundary per run. Each run is an ordinary Session; play/pause/step/reset drive them all.

import { joinCurves, LineChart } from './charts.js';
import { HeatmapView } from './heatmap.js';
import { SERIES } from './palette.js';
import { Session } from './session.js';
import { FrameScheduler, h, fmt, setText, $ } from './util.js';

const X_FIELDS = { step: 'step', epoch: 'epoch', seconds: 'elapsed' };
const REDRAW_MS = 100; // the joined chart is rebuilt at most ten times a second

export class RaceView {
  constructor(root, { onStatus, onError, onDraw }) {
    this.root = root;
    this.onStatus = onStatus;
    this.onDraw = onDraw;
    this.onError = onError;
    this.runs = [];
    this.xField = 'step';
    this.log = true;
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
      this.chart?.setLog(this.log);
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
    this.chartRoot.replaceChildren();
    this.chart = new LineChart(this.chartRoot, {
      height: 300, log: this.log, legend: false,
      series: variants.map((v, i) => ({ label: v.label, stroke: SERIES[i % SERIES.length], width: 2 })),
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
    setText(run.state, failed ? 'diverged' : job?.status === 'completed' ? 'done' : '');
    run.state.title = failed ? job.reason || '' : '';
    run.heatmap.showBanner(failed ? 'diverged' : '');
  }

  play() { for (const r of this.runs) r.session.play(); }
  pause() { for (const r of this.runs) r.session.pause(); }
  toggle() { if (this.playing) this.pause(); else this.play(); }
  stepOnce() { for (const r of this.runs) r.session.stepOnce(); }
  reset() { for (const r of this.runs) r.session.reset(); }

  stop() {
    for (const r of this.runs) r.session.dispose();
    this.runs = [];
  }

  draw() {
    this.onDraw?.();
    for (const run of this.runs) run.heatmap.draw();
    const now = performance.now();
    if (this.joinDirty && now - this.lastJoin >= REDRAW_MS) {
      this.joinDirty = false;
      this.lastJoin = now;
      const joined = joinCurves(this.runs.map((run) => run.points), this.xField,
        [(p) => p.test_loss ?? p.train_loss]);
      this.chart?.setData(joined);
      for (const run of this.runs) {
        const last = run.points.at(-1);
        setText(run.value, last ? fmt.loss(last.test_loss ?? last.train_loss) : '–');
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
