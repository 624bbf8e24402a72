// The share dialog: the link that reproduces the experiment, and a classroom option that
// hides chosen controls for whoever opens it.

import { h, $, $$ } from './util.js';

// The views' roots (marked `data-view-root` in the page): a hidden view's controls are not
// offered (its link holds another experiment).
const HIDDEN_VIEW = '[data-view-root][hidden]';

/** The control groups a teacher can hide, read from the `data-group` marks of the view shown. */
export function controlGroups() {
  const groups = new Map();
  for (const el of $$('[data-group]')) {
    if (el.closest(HIDDEN_VIEW)) continue;
    const name = el.dataset.group;
    if (!groups.has(name) && el.dataset.groupLabel) groups.set(name, el.dataset.groupLabel);
  }
  return groups;
}

/**
 * Hide the groups named in the link (classroom mode). A style rule per group also covers
 * controls drawn later (the per-layer controls of the network diagram).
 */
export function applyHidden(hide) {
  const names = [...new Set(hide)].filter((name) => /^[\w-]+$/.test(name));
  let style = $('#classroom-style');
  if (!style) {
    style = h('style', { id: 'classroom-style' });
    document.head.append(style);
  }
  style.textContent = names.map((name) => `[data-group="${name}"] { display: none !important; }`).join('\n');
  $('#classroom-badge').hidden = names.length === 0;
}

export class ShareDialog {
  /** link(hide) returns the URL for a hide list; note() what the link leaves out (or null). */
  constructor({ link, current, note = () => null }) {
    this.link = link;
    this.current = current;
    this.note = note; // what the link cannot carry, if anything
    this.dialog = $('#share-dialog');
    this.url = $('#share-url');
    this.options = $('#share-hide');
    $('#share').addEventListener('click', () => this.open());
    $('#share-copy').addEventListener('click', () => this.copy());
    $('#share-close').addEventListener('click', () => this.dialog.close());
  }

  open() {
    const hidden = new Set(this.current());
    this.options.replaceChildren(...[...controlGroups()].map(([name, label]) =>
      h('label', { class: 'check-row' },
        h('input', { type: 'checkbox', value: name, checked: hidden.has(name), onchange: () => this.refresh() }),
        label)));
    this.refresh();
    this.dialog.showModal();
    this.url.select();
  }

  refresh() {
    const hide = $$('input:checked', this.options).map((box) => box.value);
    this.url.value = this.link(hide);
    $('#share-status').textContent = this.note() || '';
  }

  async copy() {
    this.url.select();
    let ok = false;
    try {
      await navigator.clipboard.writeText(this.url.value);
      ok = true;
    } catch {
      ok = document.execCommand?.('copy') ?? false;
    }
    $('#share-status').textContent = ok ? 'Copied.' : 'Select the link and copy it.';
  }
}
