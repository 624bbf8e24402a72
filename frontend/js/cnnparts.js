// The CNN lab's image-set picker: a thumbnail of real samples per set, and a strip of the
// chosen set's images with their classes.

import { api } from './api.js';
import { fromBase64, imageCanvas } from './cnnviews.js';
import { fmt, h, radioArrows } from './util.js';

export class DatasetStrip {
  /** picker: the thumbnails' radio group; samples: where the chosen set's images go;
   * state() the lab's state (a link replaces it); onPick(name); onTotal(name) when a set's
   * size here is known. */
  constructor(picker, samples, { state, onPick, onTotal }) {
    this.onTotal = onTotal; // a set's size became known
    this.picker = picker;
    this.samples = samples;
    this.getState = state;
    this.buttons = new Map();
    this.previews = new Map(); // name -> preview answer, or an Error saying why there is none
    this.shown = '';
    for (const info of this.state.datasets()) {
      const button = h('button', {
        type: 'button', class: 'thumb image-thumb', role: 'radio', 'aria-checked': 'false',
        'aria-label': info.title, title: `${info.title}: ${info.description}`, onclick: () => onPick(info.name),
      }, h('span', { class: 'thumb-art' }), h('span', { class: 'thumb-label' }, info.title));
      this.buttons.set(info.name, button);
      picker.append(button);
      this.load(info);
    }
    picker.addEventListener('keydown', (event) => radioArrows(this.buttons, event, onPick));
  }

  get state() {
    return this.getState();
  }

  async load(info) {
    let preview;
    try {
      preview = await api.preview(info.name, { images: 20 });
    } catch (error) {
      // A set that is not here (fashion_mnist without its IDX files): the server says where they go.
      this.previews.set(info.name, error);
      const button = this.buttons.get(info.name);
      button.classList.add('missing');
      button.title = error.message;
      this.shown = '';
      this.update();
      return;
    }
    this.previews.set(info.name, preview);
    this.onTotal?.(info.name);
    const [hgt, w] = preview.shape;
    const pixels = fromBase64(preview.pixels);
    const art = this.buttons.get(info.name).querySelector('.thumb-art');
    art.replaceChildren(...[0, 1, 2, 3].map((i) => imageCanvas(pixels, hgt, w, 20, { offset: i * hgt * w })));
    this.shown = '';
    this.update();
  }

  /** How many images set `name` holds here (null until its preview has come). */
  total(name) {
    const preview = this.previews.get(name);
    return preview && !(preview instanceof Error) ? preview.total : null;
  }

  /** Mark the chosen set and show its images (or why it is not here). */
  update() {
    const name = this.state.spec.dataset.name;
    for (const [key, button] of this.buttons) {
      const on = key === name;
      button.setAttribute('aria-checked', on ? 'true' : 'false');
      button.tabIndex = on ? 0 : -1;
    }
    const info = this.state.datasetInfo();
    const preview = this.previews.get(name);
    const key = `${name}:${preview ? 'ready' : 'waiting'}`;
    if (key === this.shown) return;
    this.shown = key;
    if (!preview) {
      this.samples.replaceChildren(h('p', { class: 'cnn-empty' }, info.description));
      return;
    }
    if (preview instanceof Error) {
      this.samples.replaceChildren(h('p', { class: 'cnn-missing', role: 'note' }, preview.message));
      return;
    }
    const [hgt, w] = preview.shape;
    const pixels = fromBase64(preview.pixels);
    const names = info.class_names ?? [];
    this.samples.replaceChildren(
      h('p', { class: 'cnn-set-text' }, h('strong', {}, info.title), ` · ${info.description} `
        + `${fmt.int(preview.total)} images here (${preview.source}).`),
      h('div', { class: 'cnn-sample-grid', role: 'list', 'aria-label': `Sample images of ${info.title}` },
        ...preview.labels.map((label, i) => h('figure', { role: 'listitem', class: 'sample' },
          imageCanvas(pixels, hgt, w, 34, { offset: i * hgt * w }),
          h('figcaption', {}, names[label] ?? String(label))))));
  }
}
