// The GAN lab's second chart: how close G's samples are to the target (2-D points), or how good
// they look to a digit classifier (digits), with its title, keys and the headline number's label.

import { LineChart } from './charts.js';
import { $, h, setText } from './util.js';

export const pct = (v) => `${Math.round(v * 100)}%`;

// Series with `right` read on the axis at the right (0 – 100%).
const QUALITY = {
  points: {
    title: 'Distance to the target',
    series: [
      { field: 'distance', label: 'Sliced Wasserstein', stroke: '#1d2330', width: 2 },
      { field: 'kl', label: 'KL', stroke: '#9aa3af', width: 1.5 },
      { field: 'js', label: 'JS', stroke: '#17a3a3', width: 1.5 },
      { field: 'coverage', label: 'Mode coverage', stroke: '#2ea043', width: 1.5, dash: [5, 3], right: true },
    ],
  },
  images: {
    title: 'What a digit classifier sees',
    series: [
      { field: 'score', label: 'Score (1–10)', stroke: '#1d2330', width: 2 },
      { field: 'confidence', label: 'Confidence', stroke: '#17a3a3', width: 1.5, right: true },
      { field: 'coverage', label: 'Classes covered', stroke: '#2ea043', width: 1.5, dash: [5, 3], right: true },
    ],
  },
};

const seriesOf = (kind) => QUALITY[kind].series.map((s) => ({ ...s, scale: s.right ? 'y2' : 'y' }));

export class QualityChart {
  constructor() {
    this.kind = 'points';
    this.ready = false;
    this.keys = null;
    this.chart = new LineChart($('#gan-quality-chart'), {
      height: 118, series: seriesOf('points'), y2Format: (v) => (v === null ? '' : pct(v)),
    });
  }

  /** The series follow the kind of target: 'points' or 'images'. */
  setKind(kind, latest) {
    if (kind === this.kind && this.ready) return;
    this.ready = true;
    this.kind = kind;
    this.chart.setSeries(seriesOf(kind));
    setText($('#gan-quality-title'), QUALITY[kind].title);
    this.keys = null;
    this.renderKeys(latest);
    const image = kind === 'images';
    setText($('#gan-score-main-label'), image ? 'Score' : 'Distance');
    $('#gan-score-main').parentElement.title = image
      ? 'A digit classifier\'s score exp(E KL(p(y|x) ‖ p(y))): 1 for noise, up to 10 for varied, clear digits'
      : 'Sliced Wasserstein distance between real and generated samples; falls as G learns';
  }

  push(p) {
    this.chart.push(p.step, QUALITY[this.kind].series.map((s) => p[s.field] ?? null));
  }

  /** Points drawn so far (the browser tests read it). */
  get length() { return this.chart.length; }

  clear() { this.chart.clear(); }

  draw() { this.chart.draw(); }

  set dirty(on) { this.chart.dirty = on; }

  /** Chart keys for the series that have values (KL/JS and coverage only where they apply). */
  renderKeys(latest) {
    const present = QUALITY[this.kind].series.filter((s) => !latest
      || (latest[s.field] !== undefined && latest[s.field] !== null));
    const key = present.map((s) => s.field).join();
    if (key === this.keys) return;
    this.keys = key;
    $('#gan-quality-keys').replaceChildren(...present.map((s) => h('span', { class: 'key' },
      h('span', { class: `swatch line${s.dash ? ' dashed' : ''}`, style: `background:${s.stroke}` }),
      s.right ? `${s.label} (right)` : s.label)));
  }
}
