// The settings: toolbar (learning rate, optimizer and its parameters, loss, regularisation),
// the data column and the network header. Menus come from the catalog; values from the state.
// Field errors from the server are shown next to the control they name. Changing the
// optimizer keeps the person's learning rate and offers that optimizer's suggested one.

import { h, $, fmt } from './util.js';

// Common values for the quick menus; any other value can still be typed or loaded.
export const LR_CHOICES = [0.00001, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REG_CHOICES = [0, 0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1];
const SAMPLE_CHOICES = [20, 50, 100, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000];
const BATCH_CHOICES = [1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64, 100, 128, 200, 256, 500, 1000, 2000, 5000];
const CUSTOM = 'custom';

// How each optimizer parameter (named by the catalog's `params`) is shown.
const PARAM_VIEW = {
  momentum: { label: 'Momentum', min: 0, max: 0.99, step: 0.05 },
  nesterov: { label: 'Nesterov', bool: true },
  weight_decay: { label: 'Weight decay', min: 0, max: 1, step: 0.0001 },
  beta1: { label: 'β₁', min: 0, max: 0.999, step: 0.01 },
  beta2: { label: 'β₂', min: 0, max: 0.9999, step: 0.001 },
  alpha: { label: 'α (smoothing)', min: 0, max: 0.999, step: 0.01 },
  rho: { label: 'ρ', min: 0, max: 0.999, step: 0.01 },
};

const NORMALIZATION_LABELS = { none: 'None', minmax: 'Min-max to [−1, 1]', standard: 'Standardise (z-score)' };

/** Sorted choices with `value` added if missing. */
const withValue = (choices, value) => [...new Set([...choices, value])].sort((a, b) => a - b);

const option = (value, text, selected) => h('option', { value, selected: selected || undefined }, text);

export class Controls {
  /** onChange(path, value) for spec fields, onUi(name, value) for page settings. */
  constructor({ catalog, state, onChange, onUi }) {
    this.catalog = catalog;
    this.state = state;
    this.onChange = onChange;
    this.onUi = onUi;
    this.limits = catalog.limits;
    this.build();
  }

  build() {
    const { catalog, limits } = this;
    // Learning rate: a menu of common values, "Custom…" reveals a free entry.
    this.lr = $('#lr');
    this.lrCustom = $('#lr-custom');
    this.lr.addEventListener('change', () => {
      if (this.lr.value === CUSTOM) {
        this.lrCustom.hidden = false;
        this.lrCustom.value = String(this.state.get('optimizer.lr'));
        this.lrCustom.focus();
        this.lrCustom.select();
        return;
      }
      this.lrCustom.hidden = true;
      this.onChange('optimizer.lr', Number(this.lr.value));
    });
    this.lrHint = h('p', { class: 'field-hint', id: 'lr-hint', role: 'status', hidden: true });
    this.lr.closest('.field').append(this.lrHint);
    this.suggestFor = null; // the optimizer just chosen, whose suggested rate is offered once
    this.lrCustom.addEventListener('change', () => {
      const value = this.lrCustom.value.trim() === '' ? NaN : Number(this.lrCustom.value);
      this.onChange('optimizer.lr', Number.isFinite(value) ? value : this.lrCustom.value);
    });

    this.optimizer = $('#optimizer');
    this.optimizer.append(...catalog.optimizers.map((o) => option(o.name, o.label)));
    this.optimizer.addEventListener('change', () => {
      this.suggestFor = this.optimizer.value;
      this.onChange('optimizer.name', this.optimizer.value);
    });

    this.loss = $('#loss');
    this.loss.addEventListener('change', () => this.onChange('loss', this.loss.value));

    this.init = $('#init');
    this.init.append(...catalog.inits.map((i) => option(i.name, i.label)));
    this.init.addEventListener('change', () => this.onChange('model.init', this.init.value));

    this.activationAll = $('#activation-all');
    this.activationAll.append(option('', 'mixed'), ...catalog.activations.map((a) => option(a.name, a.label)));
    this.activationAll.addEventListener('change', () => {
      if (this.activationAll.value) this.onChange('model.activation', this.activationAll.value);
    });

    for (const key of ['l1', 'l2']) {
      const select = $(`#${key}`);
      select.addEventListener('change', () => this.onChange(`regularization.${key}`, Number(select.value)));
    }

    this.norm = $('#normalization');
    this.norm.append(...catalog.normalizations.map((n) => option(n, NORMALIZATION_LABELS[n] || n)));
    this.norm.addEventListener('change', () => this.onChange('dataset.normalization', this.norm.value));

    // Sliders. Index sliders walk a list of values; plain ones map straight to the field.
    this.sliders = {
      split: this.slider('#split', (v) => this.onChange('dataset.test_fraction', Math.round((100 - v)) / 100)),
      noise: this.slider('#noise', (v) => this.onChange('dataset.noise', v)),
      samples: this.slider('#samples', (v) => this.onChange('dataset.n_samples', this.sampleChoices[v])),
      batch: this.slider('#batch', (v) => this.onChange('batch_size', this.batchChoices[v])),
      classes: this.slider('#classes', (v) => this.onChange('dataset.classes', v)),
    };
    const split = $('#split');
    split.min = String(Math.round(100 - limits.max_test_fraction * 100));
    split.max = '100';
    split.step = '5';
    const noise = $('#noise');
    noise.min = '0';
    noise.max = String(limits.max_noise);
    noise.step = '0.05';
    const classes = $('#classes');
    classes.min = String(limits.min_classes);
    classes.max = String(limits.max_classes);

    $('#regenerate').addEventListener('click', () =>
      this.onChange('dataset.seed', Math.floor(Math.random() * 1_000_000)));

    for (const [id, name] of [['show-test', 'showTest'], ['discretize', 'discretize'], ['log-scale', 'logScale']]) {
      const box = $(`#${id}`);
      box.addEventListener('change', () => this.onUi(name, box.checked));
    }
    this.params = $('#optimizer-params');
  }

  slider(selector, commit) {
    const input = $(selector);
    input.addEventListener('input', () => this.label(input));
    input.addEventListener('change', () => commit(Number(input.value)));
    return input;
  }

  /** The value shown beside a slider. */
  label(input) {
    const out = $(`output[for="${input.id}"]`);
    const v = Number(input.value);
    const text = {
      split: () => `${v} : ${100 - v}`,
      noise: () => `${Math.round(v * 100)}%`,
      samples: () => fmt.int(this.sampleChoices[v]),
      batch: () => {
        const b = this.batchChoices[v];
        return b === 1 ? '1 (online)' : b >= this.state.trainSize() ? `${b} (full batch)` : String(b);
      },
      classes: () => String(v),
    }[input.id];
    if (out && text) out.textContent = text();
  }

  /** Show the state's values in every control. */
  render() {
    const { state, catalog, limits } = this;
    const spec = state.spec;
    // Learning rate.
    const lr = spec.optimizer.lr;
    const lrChoices = LR_CHOICES.filter((v) => v >= limits.min_lr && v <= limits.max_lr);
    const known = typeof lr === 'number' && lrChoices.includes(lr);
    const inRange = typeof lr === 'number' && lr >= limits.min_lr && lr <= limits.max_lr;
    const choices = known || !inRange ? lrChoices : withValue(lrChoices, lr);
    this.lr.replaceChildren(...choices.map((v) => option(v, String(v), v === lr)),
      option(CUSTOM, 'Custom…', !choices.includes(lr)));
    this.lrCustom.hidden = choices.includes(lr);
    if (!choices.includes(lr)) this.lrCustom.value = String(lr);

    this.optimizer.value = spec.optimizer.name;
    this.renderLrHint();
    this.renderParams();

    const task = spec.task;
    this.loss.replaceChildren(...catalog.losses.filter((l) => l.tasks.includes(task))
      .map((l) => option(l.name, l.label, l.name === spec.loss)));
    this.loss.title = catalog.losses.find((l) => l.name === spec.loss)?.description || '';
    this.optimizer.title = state.optimizerInfo()?.description || '';
    this.init.value = spec.model.init;
    this.init.title = catalog.inits.find((i) => i.name === spec.model.init)?.description || '';

    const dense = spec.model.layers.filter((l) => l.type === 'dense');
    const acts = new Set(dense.map((l) => l.activation));
    this.activationAll.value = acts.size === 1 ? [...acts][0] : '';
    this.activationAll.options[0].textContent = dense.length ? 'mixed' : '–';
    this.activationAll.disabled = dense.length === 0;

    for (const key of ['l1', 'l2']) {
      const value = spec.regularization[key];
      $(`#${key}`).replaceChildren(...withValue(REG_CHOICES.filter((v) => v <= limits.max_regularization), value)
        .map((v) => option(v, v === 0 ? 'none' : String(v), v === value)));
    }

    // Data column.
    this.norm.value = spec.dataset.normalization;
    this.sliders.split.value = String(Math.round((1 - spec.dataset.test_fraction) * 100));
    this.sliders.noise.value = String(spec.dataset.noise);
    this.sampleChoices = withValue(SAMPLE_CHOICES.filter((v) => v >= limits.min_samples && v <= limits.max_samples), spec.dataset.n_samples);
    this.setIndexSlider(this.sliders.samples, this.sampleChoices, spec.dataset.n_samples);
    const train = state.trainSize();
    this.batchChoices = withValue(BATCH_CHOICES.filter((v) => v < train && v <= limits.max_batch_size), spec.batch_size);
    if (train <= limits.max_batch_size) this.batchChoices = withValue(this.batchChoices, train);
    this.setIndexSlider(this.sliders.batch, this.batchChoices, spec.batch_size);
    this.sliders.classes.value = String(spec.dataset.classes);
    $('#classes-field').hidden = !state.datasetInfo()?.multi_class;
    for (const input of Object.values(this.sliders)) this.label(input);

    const info = state.datasetInfo();
    $('#task').replaceChildren(...(info ? [h('strong', {}, info.title), ` · ${task}. ${info.description}`] : []));

    $('#show-test').checked = state.ui.showTest;
    $('#discretize').checked = state.ui.discretize;
    $('#log-scale').checked = state.ui.logScale;
    const count = dense.length;
    $('#layer-count').textContent = `${count} hidden ${count === 1 ? 'layer' : 'layers'}`;
    $('#remove-layer').disabled = count === 0;
    $('#add-layer').disabled = spec.model.layers.length >= limits.max_layers;
  }

  /** After an optimizer change: "Kept your rate 0.3. Use 0.01 (suggested for Adam)". */
  renderLrHint() {
    const lr = this.state.spec.optimizer.lr;
    const info = this.state.optimizerInfo();
    const offer = this.suggestFor === info?.name && info.suggested_lr !== lr;
    this.suggestFor = null; // offered on the render that follows the change only
    this.lrHint.hidden = !offer;
    if (!offer) return;
    const use = h('button', { type: 'button', class: 'link-btn',
      onclick: () => this.onChange('optimizer.lr', info.suggested_lr) }, `Use ${info.suggested_lr}`);
    this.lrHint.replaceChildren(`Kept your rate ${lr}. `, use, ` (suggested for ${info.label})`);
  }

  setIndexSlider(input, values, value) {
    input.min = '0';
    input.max = String(values.length - 1);
    input.step = '1';
    input.value = String(Math.max(0, values.indexOf(value)));
  }

  /** Only the parameters the chosen optimizer uses (catalog `params`). */
  renderParams() {
    const spec = this.state.spec.optimizer;
    const used = (this.state.optimizerInfo()?.params || []).filter((p) => p !== 'lr');
    const fields = used.map((name) => {
      const view = PARAM_VIEW[name] || { label: name, min: 0, step: 0.01 };
      const id = `opt-${name}`;
      const path = `optimizer.${name}`;
      if (view.bool) {
        return h('div', { class: 'field check', dataset: { field: path } },
          h('label', { for: id }, view.label),
          h('input', { type: 'checkbox', id, checked: !!spec[name],
            onchange: (e) => this.onChange(path, e.target.checked) }));
      }
      return h('div', { class: 'field param', dataset: { field: path } },
        h('label', { for: id }, view.label),
        h('input', { type: 'number', id, value: spec[name], min: view.min, max: view.max, step: view.step,
          inputmode: 'decimal',
          onchange: (e) => this.onChange(path, e.target.value === '' ? e.target.value : Number(e.target.value)) }));
    });
    this.params.replaceChildren(...fields);
    this.params.hidden = fields.length === 0;
  }
}
