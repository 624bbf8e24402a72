// Race lessons in a lab that trains one run at a time (the CNN and RNN labs): the lesson's runs
// (e.g. dense vs CNN, RNN vs LSTM) are trained in turn, and a board keeps each one's result
// side by side. The state's `ui.variant` says which run of the race is loaded (it is in the link).

import { Lab } from './lab.js';
import { $, fmt, h, setText } from './util.js';

export class RaceLab extends Lab {
  /** raceRoot: the selector of the board's element; the rest as for `Lab`. */
  constructor({ raceRoot, ...options }) {
    super(options);
    this.race = new RaceBoard($(raceRoot), { onPick: (i) => this.pickVariant(i) });
  }

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
