// The GAN lab: choose a target (or draw one), build the generator and the discriminator, pick
// the game's loss, optimizers and step ratios, and watch the two networks play: D's belief over
// the plane, real and fake samples, G's manifold and the gradient arrows; for digits the
// evolving sample grid. The lab shell (lab.js, shell.js) owns the toolbar, links, lessons,
// errors and keys; this module decides what the GAN's settings and frames do, the views draw.

import { LineChart } from './charts.js';
import { GanCanvas, LAYERS, SampleGrid } from './gancanvas.js';
import { NetBuilder } from './ganbuilder.js';
import { GanState, targetTitle } from './ganstate.js';
import { DrawPad, TargetPicker } from './gantargets.js';
import { QualityChart, pct } from './ganquality.js';
import { SlowMotion } from './ganslow.js';
import { Lab } from './lab.js';
import { DIVERGING_GRADIENT, css, NEG, POS } from './palette.js';
import { describeRun } from './status.js';
import { $, $$, FrameScheduler, fmt, h, setText } from './util.js';

const RELOAD_MS = 150; // settings settle this long before a fresh run is prepared
const DRAW_MS = 500; // a drawing settles longer: a person often adds another stroke
const SLOW_CHOICES = [50, 100, 200, 300, 500, 750, 1000, 1500, 2000]; // ms between slow-motion steps
const SAMPLE_CHOICES = [100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000];
const BATCH_CHOICES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 2000, 5000];
const PENALTY_CHOICES = [0, 0.1, 1, 5, 10, 20, 50, 100];

const D_STROKE = '#0877bd';
const G_STROKE = '#7c5cc4';
const withValue = (choices, value) => [...new Set([...choices, value])].sort((a, b) => a - b);
const option = (value, text, selected) => h('option', { value, selected: selected || undefined }, text);

export class GanLab extends Lab {
  /** catalog: the whole catalog; presets: the GAN lessons; isActive() whether the lab is shown. */
  constructor({ catalog, presets, isActive, roots }) {
    super({
      name: 'gan', prefix: 'gan-', roots, State: GanState, catalog, presets, shareView: 'gan', isActive,
      toolbar: {
        group: 'gan-transport', groupLabel: 'GAN: play, step and reset', stepTitle: "Iterations: each is D's updates, then G's",
        step: { label: 'Step both', title: "Step both: one iteration, D's updates then G's (s)", className: 'step-both' },
      },
    });
    this.root = $('#gan-view');
    this.frames = {};
    this.firstFake = null; // the run's first `fake` frame, to compare with the latest
    this.latest = null; // latest metrics point
    this.slow = new SlowMotion({
      session: this.session, every: () => this.state.ui.every, prepare: () => this.prepare(),
      onHalt: () => this.renderStatus(),
    });
    this.scheduler = new FrameScheduler(() => this.draw());

    this.plane = new GanCanvas($('#gan-plane'), { size: 360 });
    this.samples = new SampleGrid($('#gan-samples'), { label: 'Generated digits, one per fixed latent vector' });
    this.realDigits = new SampleGrid($('#gan-real-digits'), { label: 'Real digits from the training set' });
    this.targets = new TargetPicker($('#gan-targets'), { catalog, onPick: (name) => this.change('dataset.name', name) });
    this.pad = new DrawPad($('#gan-draw'), {
      limits: catalog.gan.limits, onChange: (points) => this.change('dataset.points', points),
    });
    this.builders = ['generator', 'discriminator'].map((net) => new NetBuilder($(`#gan-${net}`), {
      catalog, net, onChange: (path, value) => this.change(path, value),
    }));
    this.lossChart = new LineChart($('#gan-loss-chart'), {
      height: 118,
      series: [
        { label: 'D loss', stroke: D_STROKE, width: 1.75 },
        { label: 'G loss', stroke: G_STROKE, width: 1.75 },
      ],
      // Losses can be negative (a Wasserstein critic's): the range follows the data.
      yRange: (u, min, max) => {
        if (min === null) return [0, 1];
        const lo = min < 0 ? min * 1.05 : 0;
        return [lo, max > 0 ? max * 1.05 : lo < 0 ? 0 : 1];
      },
    });
    this.qualityChart = new QualityChart();
    this.bindControls();
    new ResizeObserver(() => this.fit()).observe($('.gan-output'));
  }

  buttons() {
    return {
      play: () => this.toggle(), step: () => this.step('both'), 'step-d': () => this.step('d'),
      'step-g': () => this.step('g'), reset: () => this.reset(),
    };
  }

  keys() {
    return {
      ' ': () => this.toggle(), s: () => this.step('both'), d: () => this.step('d'), g: () => this.step('g'),
      r: () => this.reset(),
    };
  }

  lessonGroups() {
    return [['GAN lessons', this.presets]];
  }

  onJob() {
    this.fetchLayers();
  }

  stop() {
    this.slow.stop();
  }

  banner(text) {
    this.plane.showBanner(text);
  }

  // ----- editing ---------------------------------------------------------------------

  change(path, value) {
    const state = this.state;
    const spec = state.spec;
    const notes = [];
    if (path === 'dataset.name') {
      notes.push(...state.setTarget(value));
    } else if (path === 'gan_loss') {
      // A Wasserstein critic is usually trained several times per generator step.
      const was = state.lossInfo()?.suggested_d_steps;
      state.set(path, value);
      const now = state.lossInfo()?.suggested_d_steps;
      if (now && was !== now && spec.d_steps === was) {
        spec.d_steps = now;
        notes.push(`D steps set to ${now}, as usual for ${state.lossInfo().label}.`);
      }
    } else {
      state.set(path, value);
    }
    this.settle(notes);
    const session = this.session;
    if (/^[gd]_optimizer\.lr$/.test(path) && typeof value === 'number') {
      const started = session.job && !session.finished && session.job.step > 0;
      // A running GAN takes each network's rate live (g_lr / d_lr).
      if (started) {
        session.setLearningRate(value, state.jobSpec(), `${path[0]}_lr`);
        return;
      }
    }
    this.slow.stop();
    this.prepareSoon(path === 'dataset.points' ? DRAW_MS : RELOAD_MS);
  }

  /** A fresh paused run for the settings (none while the drawing is still empty). */
  prepare() {
    clearTimeout(this.reloadTimer);
    const spec = this.state.jobSpec();
    if (spec.dataset.name === 'drawn' && !spec.dataset.points.length) {
      this.session.hold(spec);
      return;
    }
    this.session.load(spec);
  }

  bindControls() {
    const loss = $('#gan-loss');
    loss.append(...this.catalog.gan.losses.map((l) => option(l.name, l.label)));
    loss.addEventListener('change', () => this.change('gan_loss', loss.value));
    const penalty = $('#gan-penalty');
    penalty.addEventListener('change', () => this.change('gradient_penalty', Number(penalty.value)));

    const limits = this.catalog.limits;
    const gan = this.catalog.gan.limits;
    const slider = (id, commit, label) => {
      const input = $(`#${id}`);
      input.addEventListener('input', () => setText($(`output[for="${id}"]`), label(Number(input.value))));
      input.addEventListener('change', () => commit(Number(input.value)));
      return input;
    };
    this.sliders = {
      modes: slider('gan-modes', (v) => this.change('dataset.modes', v), String),
      samples: slider('gan-samples-n', (v) => this.change('dataset.n_samples', this.sampleChoices[v]), (v) => fmt.int(this.sampleChoices[v])),
      noise: slider('gan-noise', (v) => this.change('dataset.noise', v), (v) => `${Math.round(v * 100)}%`),
      batch: slider('gan-batch', (v) => this.change('batch_size', this.batchChoices[v]), (v) => this.batchLabel(this.batchChoices[v])),
    };
    Object.assign(this.sliders.modes, { min: String(gan.min_modes), max: String(gan.max_modes), step: '1' });
    Object.assign(this.sliders.noise, { min: '0', max: String(limits.max_noise), step: '0.05' });
    $('#gan-regenerate').addEventListener('click', () => this.change('dataset.seed', Math.floor(Math.random() * 1_000_000)));

    // Visual layers.
    const toggles = $('#gan-toggles');
    for (const layer of LAYERS) {
      toggles.append(h('label', { class: `layer-chip chip-${layer.name}`, title: layer.title },
        h('input', { type: 'checkbox', checked: true, dataset: { layer: layer.name },
          onchange: (e) => this.toggleLayer(layer.name, e.target.checked) }),
        h('span', { class: 'chip-mark', 'aria-hidden': 'true' }), layer.label));
    }
    $('#gan-log').addEventListener('change', (e) => {
      this.state.ui.logScale = e.target.checked;
      this.lossChart.setLog(e.target.checked);
      this.saveUrl();
    });

    // Slow motion: a step of both networks every `every` ms, sent while the run is paused.
    const every = $('#gan-every');
    Object.assign(every, { min: '0', max: String(SLOW_CHOICES.length - 1), step: '1' });
    every.addEventListener('input', () => {
      this.state.ui.every = SLOW_CHOICES[Number(every.value)];
      this.renderSlow();
      this.saveUrl();
    });
    $('#gan-slow').addEventListener('change', (e) => this.setSlow(e.target.checked));
  }

  batchLabel(b) {
    const n = this.state.spec.dataset.n_samples;
    return b >= n ? `${b} (all)` : String(b);
  }

  toggleLayer(name, on) {
    const off = new Set(this.state.ui.off);
    if (on) off.delete(name);
    else off.add(name);
    this.state.ui.off = LAYERS.map((l) => l.name).filter((n) => off.has(n));
    this.plane.setOff(this.state.ui.off);
    this.scheduler.request();
    this.saveUrl();
  }

  // ----- rendering the settings ----------------------------------------------------------

  renderAll() {
    const state = this.state;
    const spec = state.spec;
    const data = spec.dataset;
    const info = state.targetInfo();
    const image = state.isImage();
    this.targets.update(data.name, { modes: data.modes, points: data.points || [] });
    $('#gan-target-text').replaceChildren(...(info ? [h('strong', {}, targetTitle(info)), ` · ${info.gan_description || info.description}`] : []));
    $('#gan-draw').hidden = !info?.points;
    this.pad.set(data.points || []);
    $('#gan-modes-field').hidden = !info?.modes;
    $('#gan-noise-field').hidden = image;
    this.sliders.modes.value = String(data.modes);
    this.sliders.noise.value = String(data.noise);
    const maxSamples = image ? this.catalog.gan.limits.max_digits : this.catalog.limits.max_samples;
    this.sampleChoices = withValue(SAMPLE_CHOICES.filter((v) => v >= this.catalog.limits.min_samples && v <= maxSamples),
      data.n_samples);
    if (image) this.sampleChoices = withValue(this.sampleChoices, maxSamples);
    this.setIndexSlider(this.sliders.samples, this.sampleChoices, data.n_samples);
    this.batchChoices = withValue(BATCH_CHOICES.filter((v) => v < data.n_samples), spec.batch_size);
    this.batchChoices = withValue(this.batchChoices, data.n_samples);
    this.setIndexSlider(this.sliders.batch, this.batchChoices, spec.batch_size);
    setText($('output[for="gan-modes"]'), String(data.modes));
    setText($('output[for="gan-noise"]'), `${Math.round(data.noise * 100)}%`);
    setText($('output[for="gan-samples-n"]'), fmt.int(data.n_samples));
    setText($('output[for="gan-batch"]'), this.batchLabel(spec.batch_size));
    setText($('#gan-samples-label'), image ? 'Real images' : 'Real samples');

    for (const builder of this.builders) builder.render(state);
    const loss = $('#gan-loss');
    loss.value = spec.gan_loss;
    loss.title = state.lossInfo()?.description || '';
    const lossInfo = state.lossInfo();
    $('#gan-loss-text').replaceChildren(...(lossInfo ? [h('strong', {}, lossInfo.label), ` · ${lossInfo.description}`] : []));
    const wgan = spec.gan_loss === 'wasserstein_gp';
    $('#gan-penalty-field').hidden = !wgan;
    $('#gan-penalty').replaceChildren(...withValue(PENALTY_CHOICES.filter((v) => v <= this.catalog.gan.limits.max_gradient_penalty),
      spec.gradient_penalty).map((v) => option(v, String(v), v === spec.gradient_penalty)));

    // Pictures: the plane for 2-D targets, the sample grids for images.
    $('#gan-plane-wrap').hidden = image;
    $('#gan-digits').hidden = !image;
    for (const box of $$('#gan-toggles input')) {
      const name = box.dataset.layer;
      box.checked = !state.ui.off.includes(name);
      const manifold = name === 'manifold';
      box.disabled = manifold && !state.hasManifold();
      box.closest('label').title = manifold && !state.hasManifold()
        ? 'The manifold is drawn for a latent size of 1 or 2' : LAYERS.find((l) => l.name === name).title;
    }
    this.plane.setOff(state.ui.off);
    this.renderLegend();
    this.qualityChart.setKind(image ? 'images' : 'points', this.latest);
    $('#gan-log').checked = state.ui.logScale;
    this.lossChart.setLog(state.ui.logScale);
    $('#gan-slow').checked = state.ui.slow;
    $('#gan-every').value = String(Math.max(0, SLOW_CHOICES.indexOf(state.ui.every)));
    this.renderSlow();
    this.fit();
    this.scheduler.request();
  }

  setIndexSlider(input, values, value) {
    Object.assign(input, { min: '0', max: String(values.length - 1), step: '1' });
    input.value = String(Math.max(0, values.indexOf(value)));
  }

  renderLegend() {
    const critic = this.state.spec.gan_loss === 'wasserstein_gp';
    $('#gan-legend').replaceChildren(
      h('span', { class: 'legend-class' }, h('span', { class: 'swatch', style: `background:${css(NEG)}` }), critic ? 'low score: fake' : 'D says fake'),
      h('span', { class: 'legend-bar', style: `background:${DIVERGING_GRADIENT}`,
        title: critic ? "The critic's score, from this frame's lowest to its highest" : 'D(x) from 0 to 1; white is 0.5, undecided' }),
      h('span', { class: 'legend-class' }, h('span', { class: 'swatch', style: `background:${css(POS)}` }), critic ? 'high score: real' : 'D says real'));
  }

  renderSlow() {
    const every = this.state.ui.every;
    setText($('output[for="gan-every"]'), every >= 1000 ? `${every / 1000} s` : `${every} ms`);
    $('#gan-every').disabled = !this.state.ui.slow;
    $('.slowmo').classList.toggle('on', this.state.ui.slow);
  }

  /** Size the plane (or the sample grid) to the output panel. */
  fit() {
    const panel = $('.gan-output');
    const width = panel.clientWidth;
    if (!width) return;
    const inner = width - 32;
    const side = inner >= 620 ? Math.max(240, Math.min(420, inner * 0.4)) : 0; // charts beside, or below
    panel.classList.toggle('stacked', !side);
    const room = side ? inner - side - 24 : inner;
    const size = Math.max(240, Math.min(560, Math.floor(room - 28)));
    if (Math.abs(size - this.plane.size) > 2) this.plane.resize(size);
    panel.style.setProperty('--gan-stage', `${size + 28}px`);
    this.samples.fit(size + 28);
    this.realDigits.fit(Math.floor((size + 28) * 0.55));
    this.scheduler.request();
  }

  // ----- the run ---------------------------------------------------------------------

  clearRun() {
    this.frames = {};
    this.firstFake = null;
    this.latest = null;
    this.viewFetched = false;
    this.plane.clear();
    this.samples.clear();
    this.realDigits.clear();
    this.lossChart.clear();
    this.qualityChart.clear();
    for (const builder of this.builders) builder.setParams('');
    this.renderStatus();
    this.scheduler.request();
  }

  addMetrics(points, history) {
    if (history) {
      this.lossChart.clear();
      this.qualityChart.clear();
    }
    for (const p of points) {
      this.lossChart.push(p.step, [p.d_loss ?? null, p.g_loss ?? null]);
      this.qualityChart.push(p);
    }
    const last = points.at(-1);
    if (last) this.latest = last;
    this.scheduler.request();
  }

  addFrame(frame) {
    const type = frame.header.type;
    this.frames[type] = frame;
    if (type === 'points') this.plane.set('real', frame);
    else if (type === 'fake') {
      if (!this.firstFake) this.firstFake = frame;
      this.plane.set('fake', frame);
    } else if (type === 'discriminator') this.plane.set('heatmap', frame);
    else if (type === 'manifold') this.plane.set('manifold', frame);
    else if (type === 'gradients') this.plane.set('arrows', frame);
    else if (type === 'samples') this.samples.set(frame);
    else if (type === 'images') this.realDigits.set(frame);
    this.scheduler.request();
  }

  /** The fake points of the latest frame as [[x1, x2], ...] (for the console and tests). */
  fakePoints(frame = this.frames.fake) {
    if (!frame) return [];
    const out = [];
    for (let i = 0; i < frame.header.shape[0]; i++) out.push([frame.data[i * 2], frame.data[i * 2 + 1]]);
    return out;
  }

  fetchLayers() {
    this.fetchJobView((view) => {
      if (!view.gan) return;
      this.builders[0].setParams(`${fmt.int(view.gan.generator_parameters)} params`);
      this.builders[1].setParams(`${fmt.int(view.gan.discriminator_parameters)} params`);
    });
  }

  /** Everything drawn per frame; runs at most once per animation frame, and only when shown. */
  draw() {
    if (!this.isActive()) return;
    this.plane.draw();
    this.samples.draw();
    this.realDigits.draw();
    this.lossChart.draw();
    this.qualityChart.draw();
    this.drawCounters();
    const p = this.latest;
    const image = this.qualityChart.kind === 'images';
    setText($('#gan-score-main'), image ? (Number.isFinite(p?.score) ? p.score.toFixed(2) : '–') : fmt.loss(p?.distance));
    setText($('#gan-d-loss'), fmt.loss(p?.d_loss));
    setText($('#gan-g-loss'), fmt.loss(p?.g_loss));
    const critic = this.state.spec.gan_loss === 'wasserstein_gp';
    const parts = [];
    if (p) {
      const d = (v) => (critic ? fmt.num(v) : v.toFixed(2));
      parts.push(`${critic ? 'critic' : 'D'}(real) ${d(p.d_real)}`, `${critic ? 'critic' : 'D'}(fake) ${d(p.d_fake)}`);
      if (p.coverage !== undefined && p.coverage !== null) parts.push(`${image ? 'classes' : 'modes'} covered ${pct(p.coverage)}`);
      if (image && p.confidence !== undefined) parts.push(`confidence ${pct(p.confidence)}`);
    }
    setText($('#gan-readout'), parts.join(' · '));
    this.qualityChart.renderKeys(p);
  }

  // ----- status and errors -----------------------------------------------------------

  get playing() {
    return this.slow.running || this.session.playing;
  }

  describe() {
    const session = this.session;
    let words = describeRun({ racing: false, playing: session.playing, connection: this.connection, error: session.error, job: session.job });
    if (this.slow.running && words.tone !== 'bad' && words.tone !== 'warn') words = { text: 'slow motion', tone: 'live' };
    if (!session.job && !session.error && this.state.spec.dataset.name === 'drawn' && !this.state.spec.dataset.points.length) {
      words = { text: 'draw a target', tone: '' };
    }
    return words;
  }

  /** The shared `optimizer` the page sends is the generator's: one message, next to G's field. */
  placeErrors(messages) {
    const own = new Set(messages.filter((m) => m.startsWith('g_optimizer.')).map((m) => m.slice(2)));
    return super.placeErrors(messages.filter((m) => !own.has(m)));
  }

  // ----- transport, slow motion, keys ------------------------------------------------

  toggle() {
    this.flushEdits();
    if (this.state.ui.slow) {
      if (this.slow.running) this.slow.stop();
      else this.slow.start();
      this.renderStatus();
      return;
    }
    this.session.toggle();
  }

  /** One iteration of both networks, of D only or of G only (a playing run pauses instead). */
  step(phase) {
    this.flushEdits();
    if (this.slow.running) {
      this.slow.stop();
      this.renderStatus();
      return;
    }
    // With nothing prepared (an empty drawing) this tries anyway: the server says what is missing.
    this.session.stepOnce(1, phase);
  }

  setSlow(on) {
    const wasPlaying = this.playing;
    this.state.ui.slow = on;
    this.renderSlow();
    this.saveUrl();
    if (on && this.session.playing) {
      this.session.pause();
      this.slow.start();
    } else if (!on && this.slow.running) {
      this.slow.stop();
      if (wasPlaying) this.session.play();
    }
    this.renderStatus();
  }

  /** The view is shown again: draw what arrived while it was hidden. */
  show() {
    this.fit();
    this.plane.resize(this.plane.size);
    for (const grid of [this.samples, this.realDigits]) grid.dirty = true;
    this.lossChart.dirty = true;
    this.qualityChart.dirty = true;
    this.scheduler.request();
  }
}

