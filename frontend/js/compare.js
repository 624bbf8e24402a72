// Compare runs: the test loss of every ticked run on one chart (training loss on request,
// dashed), a colour and a label each. Each run's metrics are read once and again only when
// its step moves on.

import { api } from './api.js';
import { joinCurves, LineChart } from './charts.js';
import { $, fmt, h, setText } from './util.js';

const X_FIELDS = { step: 'step', epoch: 'epoch', seconds: 'elapsed' };

export class CompareView {
  constructor(root) {
    this.root = root;
    this.entries = [];
    this.cache = new Map(); // id -> {step, status, points}
    this.xField = 'step';
    this.log = true;
    this.train = false;
    this.seriesKey = '';
    this.hint = $('#compare-hint', root);
    this.body = $('#compare-body', root);
    this.legend = $('#compare-legend', root);
    this.chart = new LineChart($('#compare-chart', root), { height: 260, log: this.log, series: [] });
    $('#compare-x', root).addEventListener('change', (e) => {
      this.xField = X_FIELDS[e.target.value];
      this.redraw();
    });
    $('#compare-log', root).addEventListener('change', (e) => {
      this.log = e.target.checked;
      this.chart.setLog(this.log);
      this.redraw();
    });
    $('#compare-train', root).addEventListener('change', (e) => {
      this.train = e.target.checked;
      this.redraw();
    });
  }

  /** entries: the ticked runs, [{id, job, label, color}]. */
  async update(entries) {
    this.entries = entries;
    const count = entries.length;
    this.body.hidden = count < 2;
    this.hint.hidden = count >= 2;
    setText(this.hint, count === 1
      ? 'Tick one more run to draw their curves on one chart.'
      : 'Tick two or more runs to draw their curves on one chart.');
    const ids = new Set(entries.map((e) => e.id));
    for (const id of this.cache.keys()) if (!ids.has(id)) this.cache.delete(id);
    this.redraw();
    const stale = entries.filter((e) => {
      const cached = this.cache.get(e.id);
      return !cached || cached.step !== e.job.step || cached.status !== e.job.status;
    });
    if (!stale.length) return;
    await Promise.all(stale.map(async ({ id, job }) => {
      try {
        const { points } = await api.metrics(id);
        this.cache.set(id, { step: job.step, status: job.status, points });
      } catch {
        // Deleted meanwhile: the next list drops it.
      }
    }));
    this.redraw();
  }

  redraw() {
    const entries = this.entries;
    if (entries.length < 2) return;
    const series = entries.flatMap((e) => [
      { label: e.label, stroke: e.color, width: 2 },
      ...(this.train ? [{ label: `${e.label} (training)`, stroke: e.color, width: 1.25, dash: [5, 4] }] : []),
    ]);
    const key = JSON.stringify(series);
    if (key !== this.seriesKey) {
      this.seriesKey = key;
      this.chart.setSeries(series);
    }
    const fields = [(p) => p.test_loss ?? p.train_loss];
    if (this.train) fields.push((p) => p.train_loss);
    const runs = entries.map((e) => this.cache.get(e.id)?.points || []);
    this.chart.setData(joinCurves(runs, this.xField, fields));
    this.chart.draw();
    setText($('#compare-title-note', this.root), this.train ? 'test (solid) and training (dashed) loss' : 'test loss');
    this.legend.replaceChildren(...entries.map((e) => {
      const s = e.job.summary || {};
      return h('li', { class: 'race-item', dataset: { id: e.id } },
        h('span', { class: 'swatch line', style: `background:${e.color}` }),
        h('span', { class: 'race-label' }, e.label),
        h('span', { class: 'race-value', title: 'Best test loss' }, fmt.loss(s.best_test_loss)),
        h('span', { class: 'race-state' },
          [s.best_test_accuracy !== null && s.best_test_accuracy !== undefined ? `best accuracy ${fmt.pct(s.best_test_accuracy)}` : '',
            `${fmt.int(e.job.step)} steps`].filter(Boolean).join(' · ')));
    }));
  }
}
