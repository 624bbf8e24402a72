// What the labs that train one run at a time (the CNN and RNN labs) share beyond `Lab`: edits
// that prepare a fresh run, the training controls (optimizer, learning rate, batch size, log
// scale), the probe choice sent to each run, the failure banner, and race lessons: the lesson's
// runs (e.g. dense vs CNN, RNN vs LSTM) are trained in turn and a board keeps each one's result
// side by side (the state's `ui.variant`, in the link, says which run is loaded).
//
// Element ids, with the lab's prefix: #{p}race, #{p}banner, #{p}optimizer, #{p}lr, #{p}batch, #{p}log.

import { LR_CHOICES } from './controls.js';
import { Lab } from './lab.js';
import { $, fmt, h, setText } from './util.js';

const RELOAD_MS = 200; // settings settle this long before a fresh run is prepared

export const option = (value, text, selected) => h('option', { value, selected: selected || undefined }, text);

/** Fill a menu with `values` (and `value`, if it is not among them), `value` chosen. */
export function fillSelect(el, values, value, label = String) {
  const all = [...new Set([...values, value])].sort((a, b) => a - b);
  el.replaceChildren(...all.map((v) => option(v, label(v), v === value)));
}

export class OneRunLab extends Lab {
  /** lessonsLabel: the lesson menu's group label; the rest as for `Lab`. */
  constructor({ lessonsLabel, ...options }) {
    super(options);
    this.lessonsLabel = lessonsLabel;
    this.probeSent = null; // the job the probe choice was last sent to
    this.race = new RaceBoard(this.el('race'), { onPick: (i) => this.pickVariant(i) });
    this.frames = {}; // the latest frame of each type
    this.latest = null; // the latest metrics point
  }

  addMetrics(points, history) {
    this.curves.add(points, history);
    const last = points.at(-1);
    if (last) {
      this.latest = last;
      this.metricsAdded(points, last);
      this.race.record(last, this.parameterCount);
    }
    this.scheduler.request();
  }

  /** What a lab draws from new points beside the curves (the CNN: its class report). */
  metricsAdded() {}

  addFrame(frame) {
    this.frames[frame.header.type] = frame;
    this.scheduler.request();
  }

  lessonGroups() {
    return [[this.lessonsLabel, this.presets]];
  }

  banner(text) {
    const node = this.el('banner');
    node.hidden = !text;
    setText(node, text);
  }

  // ----- editing ---------------------------------------------------------------------

  /** How long an edit of `path` settles before its run is prepared. */
  reloadDelay() {
    return RELOAD_MS;
  }

  change(path, value) {
    this.state.set(path, value);
    this.race.leave(); // an edited run is no longer the race's
    this.settle();
    this.prepareSoon(this.reloadDelay(path));
  }

  /** A menu that sets spec field `path` (its value read by `parse`). */
  bindSelect(id, path, parse = Number) {
    const el = this.el(id);
    el.addEventListener('change', () => this.change(path, parse(el.value)));
    return el;
  }

  /** The toolbar's optimizer, learning rate (live in a run under way) and batch size, and the log scale. */
  bindTraining(curves) {
    this.curves = curves;
    const selects = {
      batch: this.bindSelect('batch', 'batch_size'),
      optimizer: this.bindSelect('optimizer', 'optimizer.name', String),
      lr: this.el('lr'),
    };
    selects.optimizer.replaceChildren(...this.catalog.optimizers.map((o) => option(o.name, o.label)));
    selects.lr.addEventListener('change', () => {
      const lr = Number(selects.lr.value);
      this.state.set('optimizer.lr', lr);
      this.settle();
      this.session.setLearningRate(lr, this.state.jobSpec());
    });
    this.el('log').addEventListener('change', (e) => {
      this.state.ui.logScale = e.target.checked;
      this.curves.setLog(e.target.checked);
      this.saveUrl();
    });
    return selects;
  }

  renderTraining(selects, batches) {
    const spec = this.state.spec;
    const limits = this.catalog.limits;
    fillSelect(selects.batch, batches, spec.batch_size);
    fillSelect(selects.lr, LR_CHOICES.filter((v) => v >= limits.min_lr && v <= limits.max_lr), spec.optimizer.lr);
    selects.optimizer.value = spec.optimizer.name;
    this.el('log').checked = this.state.ui.logScale;
    this.curves.setLog(this.state.ui.logScale);
  }

  // ----- the probe ---------------------------------------------------------------------

  /** The websocket message that picks what the frames show. */
  probeMessage() {
    return { type: 'probe', index: this.state.ui.probe };
  }

  /** Tell the run which input to probe (once per job unless `again`); it must be under way. */
  sendProbe(again = false) {
    const job = this.session.job;
    if (!job || !['running', 'paused'].includes(job.status)) return;
    if (!again && this.probeSent === job.id) return;
    this.probeSent = job.id;
    this.session.send(this.probeMessage());
  }

  onJob() {
    this.probeSent = null;
  }

  renderStatus() {
    super.renderStatus();
    this.sendProbe();
  }

  // ----- race lessons ----------------------------------------------------------------

  /** A race lesson from the menu loads its first run (the lab prepares it, not the default). */
  startPreset(preset) {
    if (!preset.variants?.length) {
      this.race.leave();
      return true;
    }
    this.race.start(preset);
    this.pickVariant(0, { fresh: true });
    return false;
  }

  applyPreset(preset, found) {
    if (preset.variants?.length) {
      this.race.start(preset);
      const index = Math.min(this.state.ui.variant ?? 0, preset.variants.length - 1);
      if (!found.spec) this.state.loadSpec(preset.variants[index].spec);
      this.race.setCurrent(index);
    } else {
      this.race.leave();
      if (!found.spec) this.state.loadSpec(preset.spec);
    }
    this.showLesson(preset);
  }

  leaveLesson() {
    this.race.leave();
    this.state.ui.variant = 0;
  }

  pickVariant(index, { fresh = false } = {}) {
    const variant = this.race.variant(index);
    if (!variant) return;
    this.race.setCurrent(index);
    this.state.ui.variant = index;
    this.loadFresh(variant.spec);
    if (!fresh) this.saveUrl();
  }
}

/** The board: one row per run of the race, its button and its latest test result. */
export class RaceBoard {
  /** onPick(index) loads a run of the race. */
  constructor(root, { onPick }) {
    this.root = root;
    this.onPick = onPick;
    this.preset = null;
    this.current = -1;
    this.results = new Map(); // variant label -> {accuracy, parameters, step}
    root.hidden = true;
  }

  start(preset) {
    if (this.preset?.name !== preset.name) this.results = new Map();
    this.preset = preset;
    this.current = 0;
    this.render();
  }

  leave() {
    this.preset = null;
    this.root.hidden = true;
  }

  variant(index) {
    return this.preset?.variants?.[index] ?? null;
  }

  setCurrent(index) {
    this.current = Math.max(0, index);
    this.render();
  }

  /** The newest metrics point of the current run of the race, and its parameter count. */
  record(point, parameters = null) {
    const variant = this.variant(this.current);
    if (!variant || !point.step || (point.test_accuracy === undefined && point.test_loss === undefined)) return;
    this.results.set(variant.label, { accuracy: point.test_accuracy, loss: point.test_loss, step: point.step, parameters });
    this.render();
  }

  render() {
    const preset = this.preset;
    this.root.hidden = !preset;
    if (!preset) return;
    const rows = preset.variants.map((variant, i) => {
      const result = this.results.get(variant.label);
      // Classifiers compare by accuracy, regressions by their test loss.
      const score = result?.accuracy !== undefined ? `${fmt.pct(result?.accuracy)} test accuracy`
        : `test loss ${fmt.loss(result?.loss)}`;
      const text = result
        ? `${score} at step ${fmt.int(result.step)}`
          + (result.parameters ? ` · ${fmt.int(result.parameters)} parameters` : '')
        : 'not trained yet';
      return h('li', { class: `race-entry${i === this.current ? ' current' : ''}` },
        h('button', { type: 'button', class: 'ghost-btn', 'aria-pressed': String(i === this.current),
          onclick: () => this.onPick(i) }, variant.label),
        h('span', { class: 'race-result' }, text));
    });
    const title = h('div', { class: 'mini-title' }, 'The race: train each run, then compare');
    this.root.replaceChildren(title, h('ol', { class: 'race-list' }, ...rows));
    setText(title, `The race (${preset.title}): train each run, then compare`);
  }
}
