// A lab's layer-stack editor (the CNN and RNN labs): one row per layer with its controls (built
// from the catalog's layer types), its output shape and parameter count (from the server),
// buttons to move or remove it, and a menu to add a layer where it belongs. Edits go out as a
// new layer list; the lab decides.

import { layerControls } from './layerrow.js';
import { fmt, h } from './util.js';

// Integer fields step through these values (filters and neurons are usually powers of two).
const LADDERS = {
  filters: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64],
  units: [1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256],
};
const shapeText = (dims) => dims.join('×');

export class StackEditor {
  /**
   * catalog: the whole catalog; kind: the data kind whose layers it offers ('image',
   * 'sequence'); name: how a row reads in labels ('CNN' -> "CNN layer 1"); onChange(layers).
   */
  constructor(root, { catalog, kind, name, onChange }) {
    this.root = root;
    this.catalog = catalog;
    this.kind = kind;
    this.name = name;
    this.onChange = onChange;
    this.types = new Map(catalog.layer_types.map((t) => [t.name, t]));
    const info = catalog.data_kinds.find((k) => k.name === kind);
    this.addable = (info?.layer_types ?? []).filter((type) => this.types.has(type));
    // Layers that read the kind's own shape (convolutions, recurrent cells) sit before the flat ones.
    this.leading = new Set(this.addable.filter((type) => this.types.get(type).takes === kind));
    this.activationLabels = Object.fromEntries(catalog.activations.map((a) => [a.name, a.label]));
    this.rows = null; // the server's summary rows (input, one per layer, output), or null
    this.key = '';
  }

  /** The server's rows for the current layers (null while unknown or refused). */
  setRows(rows) {
    this.rows = rows;
    this.key = '';
  }

  /** inputShape: one sample's shape; output: what the output layer gives, in words. */
  render(layers, inputShape, output) {
    const key = JSON.stringify([layers, inputShape, output, this.rows]);
    if (key === this.key) return;
    this.key = key;
    const active = document.activeElement;
    const focused = this.root.contains(active) ? active.dataset.key : null;
    this.root.replaceChildren(...this.build(layers, inputShape, output));
    if (focused) {
      const again = this.root.querySelector(`[data-key="${focused}"]`);
      if (again && !again.disabled) again.focus();
    }
  }

  build(layers, inputShape, output) {
    const rows = this.rows && this.rows.length === layers.length + 2 ? this.rows : null;
    const out = (i) => (rows ? rows[i] : null);
    const shapeCell = (row) => h('span', { class: 'stack-shape', title: 'Output shape per image (channels × height × width)' },
      row ? `→ ${shapeText(row.dims)}` : '→ …');
    const paramCell = (row) => h('span', { class: 'stack-params', title: 'Trainable parameters (weights and biases)' },
      row ? `${fmt.int(row.parameters)} params` : '');
    const items = [
      h('li', { class: 'stack-row stack-io' },
        h('span', { class: 'stack-index', 'aria-hidden': 'true' }, 'in'),
        h('span', { class: 'stack-type' }, this.kind === 'image' ? 'Input image' : 'Input sequence'),
        h('span', { class: 'stack-controls' }),
        h('span', { class: 'stack-shape' }, shapeText(inputShape)), h('span', { class: 'stack-params' })),
    ];
    layers.forEach((layer, index) => {
      const type = this.types.get(layer.type);
      const name = `${this.name} layer ${index + 1}`;
      const change = (field, value) => this.onChange(layers.map((l, i) => (i === index ? { ...l, [field]: value } : l)));
      const move = (delta) => {
        const next = [...layers];
        [next[index], next[index + delta]] = [next[index + delta], next[index]];
        this.onChange(next);
      };
      items.push(h('li', { class: 'stack-row', dataset: { field: `model.layers.${index}`, type: layer.type } },
        h('span', { class: 'stack-index', 'aria-hidden': 'true' }, String(index + 1)),
        h('span', { class: 'stack-type' }, type?.label ?? layer.type),
        h('span', { class: 'stack-controls' }, ...layerControls(layer, type, {
          name, key: index, ladders: LADDERS, labels: { activation: this.activationLabels }, named: true,
          limits: { units: this.catalog.limits.max_units }, onChange: change,
        })),
        shapeCell(out(index + 1)), paramCell(out(index + 1)),
        h('span', { class: 'stack-moves' },
          h('button', { type: 'button', class: 'mini-btn', 'aria-label': `Move ${name} up`, title: 'Move up',
            dataset: { key: `up-${index}` }, disabled: index === 0, onclick: () => move(-1) }, '↑'),
          h('button', { type: 'button', class: 'mini-btn', 'aria-label': `Move ${name} down`, title: 'Move down',
            dataset: { key: `down-${index}` }, disabled: index === layers.length - 1, onclick: () => move(1) }, '↓'),
          h('button', { type: 'button', class: 'mini-btn remove', 'aria-label': `Remove ${name}`, title: 'Remove',
            dataset: { key: `remove-${index}` }, onclick: () => this.onChange(layers.filter((_, i) => i !== index)) }, '×'))));
    });
    const last = out(layers.length + 1);
    items.push(h('li', { class: 'stack-row stack-io' },
      h('span', { class: 'stack-index', 'aria-hidden': 'true' }, 'out'),
      h('span', { class: 'stack-type' }, 'Output'),
      h('span', { class: 'stack-controls stack-note' }, output),
      shapeCell(last), paramCell(last)));

    const menu = h('select', { 'aria-label': 'Layer to add', dataset: { key: 'add-type' } },
      ...this.addable.map((name) => h('option', { value: name }, this.types.get(name).label)));
    const full = layers.length >= this.catalog.limits.max_layers;
    const add = h('div', { class: 'stack-add' }, menu,
      h('button', { type: 'button', class: 'ghost-btn', dataset: { key: 'add' }, disabled: full,
        title: full ? `At most ${this.catalog.limits.max_layers} layers` : `Add the layer where it belongs: ${this.kind} layers before the flat ones`,
        onclick: () => this.onChange(this.added(layers, menu.value)) }, '+ Add layer'));
    const total = rows ? rows.reduce((a, r) => a + r.parameters, 0) : null;
    return [
      h('ol', { class: 'stack', dataset: { field: 'model.layers' }, 'aria-label': 'Layers, input to output' }, ...items),
      add,
      h('p', { class: 'stack-total' }, total === null ? 'Checking the shapes…' : `${fmt.int(total)} trainable parameters in all`),
    ];
  }

  /** `layers` with a new layer of `name` (its catalog defaults) where it belongs. */
  added(layers, name) {
    const layer = { type: name };
    for (const control of this.types.get(name)?.controls ?? []) {
      if (control.default !== null && control.default !== undefined) layer[control.name] = control.default;
    }
    if (name === 'dense') layer.activation = 'relu';
    let at = layers.length;
    if (this.leading.has(name)) {
      const flat = layers.findIndex((l) => !this.leading.has(l.type) && l.type !== 'batchnorm' && l.type !== 'dropout');
      at = flat < 0 ? layers.length : flat;
    }
    return [...layers.slice(0, at), layer, ...layers.slice(at)];
  }
}
