// The RNN lab: pick a sequence task (a sine to continue, a symbol to remember, a trend, text to
// write), pick the cell (RNN, GRU, LSTM) and stack, train, and watch the hidden state carried
// through time: the network unfolded over the probe sequence, the hidden state and the gates
// as time x units heatmaps, input / target / prediction, the gradient reaching each step, and
// for text the samples it writes. The lab shell (lab.js, shell.js) owns the toolbar, links,
// lessons, errors and keys.

import { api } from './api.js';
import { CurvesView, LineChart } from './charts.js';
import { OneRunLab, fillSelect, option } from './onerunlab.js';
import { CELLS, RnnState } from './rnnstate.js';
import { TimeHeatmap, UnfoldedView } from './rnnviews.js';
import { StackEditor } from './stackeditor.js';
import { $, FrameScheduler, fmt, h, radioArrows, setText } from './util.js';

const TEXT_MS = 600; // typed text settles longer
const LENGTHS = [5, 10, 20, 30, 40, 60, 80, 100, 150, 200];
const SAMPLES = [200, 500, 1000, 2000, 5000];
const BATCHES = [8, 16, 32, 64, 128];
const CLIPS = [0, 0.5, 1, 5, 10];
const CELL_LABELS = { rnn: 'RNN', gru: 'GRU', lstm: 'LSTM' };
const MODE_LABELS = { many_to_one: 'many to one', many_to_many: 'many to many' };

export class RnnLab extends OneRunLab {
  /** catalog: the whole catalog; presets: the RNN lessons; isActive() whether the lab is shown. */
  constructor({ catalog, presets, isActive, roots }) {
    super({
      name: 'rnn', prefix: 'rnn-', roots, State: RnnState, catalog, presets, shareView: 'rnn', isActive,
      toolbar: { group: 'rnn-transport', groupLabel: 'RNN: play, step and reset' }, lessonsLabel: 'RNN lessons',
    });
    this.continuation = null; // a sine run's free-running continuation of the probe
    this.scheduler = new FrameScheduler(() => this.draw());
    this.stack = new StackEditor($('#rnn-stack'), {
      catalog, kind: 'sequence', name: 'RNN', onChange: (layers) => this.change('model.layers', layers),
    });
    this.unfolded = new UnfoldedView($('#rnn-unfolded'));
    this.hiddenMap = new TimeHeatmap($('#rnn-hidden'), { label: 'Hidden state h_t (rows: units, columns: time steps)' });
    this.gateMaps = [];
    this.sequenceChart = new LineChart($('#rnn-sequence-chart'), {
      height: 130, xLabel: 't', yRange: (u, min, max) => [Math.min(min ?? -1, -1), Math.max(max ?? 1, 1)],
      series: [
        { label: 'input', stroke: '#9aa3af', width: 1.5 },
        { label: 'target', stroke: '#1d2330', width: 2, points: true },
        { label: 'prediction', stroke: '#0877bd', width: 2, points: true },
        { label: 'free-running', stroke: '#f59322', width: 2, dash: [4, 3] },
      ],
    });
    this.gradientChart = new LineChart($('#rnn-gradient-chart'), {
      height: 110, xLabel: 't', log: true, series: [{ label: '‖∂loss/∂h_t‖', stroke: '#7c5cc4', width: 2 }],
    });
    this.bindControls();
  }

  reloadDelay(path) {
    return path === 'dataset.text' ? TEXT_MS : super.reloadDelay(path);
  }

  bindControls() {
    this.selects = {
      ...this.bindTraining(new CurvesView($('#rnn-loss-chart'), $('#rnn-accuracy-chart'), { height: 110 })),
      length: this.bindSelect('len', 'dataset.seq_len'),
      samples: this.bindSelect('n', 'dataset.n_samples'),
      noise: this.bindSelect('noise', 'dataset.noise'),
      mode: this.bindSelect('mode', 'sequence_mode', String),
      clip: this.bindSelect('clip', 'clip_norm'),
    };
    this.selects.mode.replaceChildren(...Object.entries(MODE_LABELS).map(([v, t]) => option(v, t)));
    // The datasets and the cells as radio buttons.
    this.dataButtons = new Map();
    for (const info of this.state.datasets()) {
      const button = h('button', { type: 'button', class: 'seq-pick', role: 'radio', 'aria-checked': 'false',
        title: info.description, onclick: () => this.change('dataset.name', info.name) }, info.title);
      this.dataButtons.set(info.name, button);
      $('#rnn-datasets').append(button);
    }
    $('#rnn-datasets').addEventListener('keydown', (e) => radioArrows(this.dataButtons, e, (name) => this.change('dataset.name', name)));
    this.cellButtons = new Map();
    for (const cell of CELLS) {
      const button = h('button', { type: 'button', class: 'seq-pick', role: 'radio', 'aria-checked': 'false',
        onclick: () => this.setCell(cell) }, CELL_LABELS[cell]);
      this.cellButtons.set(cell, button);
      $('#rnn-cells').append(button);
    }
    $('#rnn-cells').addEventListener('keydown', (e) => radioArrows(this.cellButtons, e, (cell) => this.setCell(cell)));
    const text = $('#rnn-text');
    text.addEventListener('input', () => this.change('dataset.text', text.value.trim() ? text.value : null));
    const temperature = $('#rnn-temperature');
    temperature.addEventListener('input', () => {
      this.state.ui.temperature = Number(temperature.value);
      setText($('output[for="rnn-temperature"]'), temperature.value);
      this.saveUrl();
    });
    $('#rnn-generate').addEventListener('click', () => this.generate());
    $('#rnn-continue').addEventListener('click', () => this.continueSine());
    $('#rnn-probe-prev').addEventListener('click', () => this.probe(this.state.ui.probe - 1));
    $('#rnn-probe-next').addEventListener('click', () => this.probe(this.state.ui.probe + 1));
  }

  setCell(cell) {
    this.state.setCell(cell);
    this.change('model.layers', this.state.spec.model.layers);
  }

  // ----- probing and generating ------------------------------------------------------

  /** Show test sequence `index` (the next frames are of it). */
  probe(index) {
    const i = Math.max(0, index);
    this.state.ui.probe = i;
    this.continuation = null;
    this.sendProbe(true);
    this.saveUrl();
  }

  /** A text run writes `length` characters after the prompt, at the chosen temperature. */
  async generate() {
    const job = this.session.job;
    if (!job) return;
    const out = $('#rnn-generated');
    try {
      const answer = await api.generate(job.id, {
        prompt: $('#rnn-prompt').value, length: 200, temperature: this.state.ui.temperature,
      });
      setText(out, answer.text);
      out.dataset.tone = '';
    } catch (error) {
      setText(out, error.message);
      out.dataset.tone = 'bad';
    }
  }

  /** A sine run continues the probe on its own, each prediction fed back as the next input. */
  async continueSine() {
    const job = this.session.job;
    const seq = this.frames.sequence;
    if (!job || !seq) return;
    const time = seq.header.shape[1];
    try {
      const answer = await api.generate(job.id, { seed_values: Array.from(seq.data.slice(0, time)), length: time });
      this.continuation = { time, values: answer.values };
      this.status.hideAlert('generate');
    } catch (error) {
      this.status.alert(error.message, 'generate', 'warn');
    }
    this.scheduler.request();
  }

  // ----- rendering the settings ----------------------------------------------------------

  renderAll() {
    const state = this.state;
    const spec = state.spec;
    const info = state.datasetInfo();
    for (const [name, button] of this.dataButtons) {
      button.setAttribute('aria-checked', String(name === spec.dataset.name));
      button.tabIndex = name === spec.dataset.name ? 0 : -1;
    }
    const cell = state.cell();
    for (const [name, button] of this.cellButtons) {
      button.setAttribute('aria-checked', String(name === cell));
      button.tabIndex = name === cell ? 0 : -1;
    }
    setText($('#rnn-task'), info?.description ?? '');
    const text = spec.dataset.name === 'text';
    const sine = ['sine', 'sines'].includes(spec.dataset.name);
    $('#rnn-text-field').hidden = !text;
    if (document.activeElement !== $('#rnn-text')) $('#rnn-text').value = spec.dataset.text ?? '';
    $('#rnn-writing').hidden = !text;
    $('#rnn-continue').hidden = !sine;
    $('#rnn-sequence').hidden = text; // characters as class numbers say little: the writing box shows them
    fillSelect(this.selects.length, LENGTHS.filter((v) => v <= this.catalog.limits.max_seq_len), spec.dataset.seq_len);
    fillSelect(this.selects.samples, SAMPLES, spec.dataset.n_samples, fmt.int);
    fillSelect(this.selects.noise, [0, 0.05, 0.1, 0.2, 0.5], spec.dataset.noise, (v) => `${Math.round(v * 100)}%`);
    fillSelect(this.selects.clip, CLIPS, spec.clip_norm, (v) => (v ? `norm ${v}` : 'off'));
    this.renderTraining(this.selects, BATCHES);
    this.selects.mode.value = spec.sequence_mode;
    $('#rnn-temperature').value = String(state.ui.temperature);
    setText($('output[for="rnn-temperature"]'), String(state.ui.temperature));
    this.renderStack();
    this.scheduler.request();
  }

  renderStack() {
    const spec = this.state.spec;
    const output = spec.task === 'regression' ? 'the next value' : 'class probabilities, softmax';
    // One sample: seq_len steps of the dataset's features per step (the catalog's data kind says).
    const kind = this.catalog.data_kinds.find((k) => k.name === 'sequence');
    const features = kind?.datasets.find((d) => d.name === spec.dataset.name)?.input_shape.at(-1) ?? 1;
    this.stack.render(spec.model.layers, [spec.dataset.seq_len, features], output);
  }

  // ----- the run ---------------------------------------------------------------------

  onJob() {
    super.onJob();
    this.stack.setRows(null);
    this.renderStack();
  }

  renderStatus() {
    super.renderStatus();
    // The server's rows (shapes, parameters) once the run has started.
    if (this.session.job && !this.stack.rows) {
      this.fetchJobView((view) => {
        if (view.layers) this.stack.setRows(view.layers);
        this.parameterCount = view.parameter_count ?? null;
        this.renderStack();
      });
    }
  }

  clearRun() {
    this.frames = {};
    this.latest = null;
    this.continuation = null;
    this.viewFetched = false;
    this.curves.clear();
    setText($('#rnn-sample'), '');
    this.renderStatus();
    this.scheduler.request();
  }

  draw() {
    if (!this.isActive()) return;
    const f = this.frames;
    if (f.hidden_state) {
      const [time, units] = f.hidden_state.header.shape;
      this.unfolded.update(f.hidden_state, f.sequence);
      this.hiddenMap.draw(f.hidden_state.data, time, units, f.hidden_state.header.value_range,
        { caption: `Hidden state h_t of the ${CELL_LABELS[f.hidden_state.header.cell] ?? ''} (rows: ${units} units, columns: ${time} steps)` });
      setText($('#rnn-probe-label'), `test sequence ${f.hidden_state.header.index ?? this.state.ui.probe}`);
    }
    this.drawGates(f.gates);
    if (f.sequence) this.drawSequence(f.sequence);
    if (f.gradient_norms) {
      const norms = Array.from(f.gradient_norms.data, (v) => (v > 0 ? v : null));
      this.gradientChart.setData([norms.map((_, t) => t + 1), norms]);
      this.gradientChart.draw();
    }
    if (f.sample) setText($('#rnn-sample'), f.sample.header.text);
    this.curves.draw();
    const p = this.latest;
    const regression = this.state.spec.task === 'regression';
    $('#rnn-accuracy-score').hidden = regression;
    $('#rnn-accuracy-wrap').hidden = regression;
    setText($('#rnn-test-accuracy'), fmt.pct(p?.test_accuracy));
    setText($('#rnn-test-loss'), fmt.loss(p?.test_loss));
    setText($('#rnn-train-loss'), fmt.loss(p?.train_loss));
    this.drawCounters();
  }

  drawGates(frame) {
    const root = $('#rnn-gates');
    root.hidden = !frame;
    if (!frame) return;
    const [g, time, units] = frame.header.shape;
    if (this.gateMaps.length !== g) {
      root.replaceChildren();
      this.gateMaps = frame.header.names.map((name) => new TimeHeatmap(root, { label: name }));
    }
    frame.header.names.forEach((name, i) => {
      this.gateMaps[i].draw(frame.data, time, units, frame.header.value_ranges[i],
        { offset: i * time * units, caption: `${name} ${name === 'cell' ? 'state c_t' : 'gate'}`, cell: 8, tall: 96 });
    });
  }

  drawSequence(frame) {
    const [, time] = frame.header.shape;
    const row = (r) => Array.from(frame.data.slice(r * time, (r + 1) * time), (v) => (Number.isFinite(v) ? v : null));
    const symbols = frame.header.input_kind === 'symbol';
    const ts = Array.from({ length: time }, (_, t) => t + 1);
    const free = this.continuation?.time === time ? this.continuation.values : [];
    const xs = [...ts, ...free.map((_, i) => time + i + 1)];
    const pad = (values) => [...values, ...free.map(() => null)];
    this.sequenceChart.setData([xs, pad(symbols ? ts.map(() => null) : row(0)), pad(row(1)), pad(row(2)),
      [...ts.map(() => null), ...free]]);
    this.sequenceChart.draw();
    const note = frame.header.classes
      ? `Targets and predictions are class numbers (${frame.header.classes} classes); a gap means no answer at that step.`
      : 'A gap in the target means the network gives no answer at that step (many to one answers at the end).';
    setText($('#rnn-sequence-note'), note);
  }
}
