// The generator and discriminator builders: hidden layers (+/−), neurons per layer (+/−) and
// each layer's activation, what goes in and comes out, the network's optimizer and learning
// rate, and its updates per iteration. Edits go out as (path, value); the state decides.

import { LR_CHOICES } from './controls.js';
import { edit, toGroups } from './layers.js';
import { layerControls, ladder, stepper } from './layerrow.js';
import { h } from './util.js';

// Neurons per layer walk this ladder (a GAN's layers are 8 to 256 wide more often than 5).
const UNITS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256];
const LATENT = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64];
// The one optimizer parameter worth a control in a GAN (the others keep their values).
const PARAM = { momentum: { label: 'Momentum', max: 0.99 }, beta1: { label: 'β₁', max: 0.999 } };
const CUSTOM = 'custom';

const option = (value, text, selected) => h('option', { value, selected: selected || undefined }, text);

export class NetBuilder {
  /**
   * net: 'generator' | 'discriminator'. onChange(path, value) for spec fields.
   */
  constructor(root, { catalog, net, onChange }) {
    this.root = root;
    this.catalog = catalog;
    this.net = net;
    this.short = net === 'generator' ? 'G' : 'D';
    this.opt = net === 'generator' ? 'g_optimizer' : 'd_optimizer';
    this.steps = net === 'generator' ? 'g_steps' : 'd_steps';
    this.onChange = onChange;
    this.key = '';
    this.paramsText = '';
    this.types = new Map((catalog.layer_types ?? []).map((t) => [t.name, t]));
    this.activationLabels = Object.fromEntries(catalog.activations.map((a) => [a.name, a.label]));
  }

  /** The parameter count, from the server's description of the built network. */
  setParams(text) {
    this.paramsText = text;
    const out = this.root.querySelector('.gan-params');
    if (out) out.textContent = text;
  }

  /** Rebuild when anything this card shows changed; keeps the focus on the control in use. */
  render(state) {
    const spec = state.spec;
    const image = state.isImage();
    const key = JSON.stringify([spec[this.net], spec[this.opt], spec[this.steps], spec.latent_dim, spec.noise,
      spec.gan_loss, image]);
    if (key === this.key) return;
    this.key = key;
    const active = document.activeElement;
    const focused = this.root.contains(active) ? active.dataset.key : null;
    this.root.replaceChildren(...this.build(state));
    if (focused) {
      const again = this.root.querySelector(`[data-key="${focused}"]`);
      if (again && !again.disabled) again.focus();
    }
  }

  build(state) {
    const { catalog, net, short } = this;
    const spec = state.spec;
    const limits = catalog.limits;
    const layers = spec[net].layers;
    const { lead, groups } = toGroups(layers);
    const title = net === 'generator' ? 'Generator' : 'Discriminator';
    const count = groups.length;
    const path = `${net}.layers`;
    const head = h('header', { class: 'gan-net-head' },
      h('span', { class: `net-badge ${short.toLowerCase()}`, 'aria-hidden': 'true' }, short),
      h('div', { class: 'gan-net-name' },
        h('h3', { class: 'gan-net-title' }, title),
        h('span', { class: 'gan-params', title: 'Trainable parameters (weights and biases)' }, this.paramsText)),
      h('div', { class: 'layer-stepper' },
        h('button', { type: 'button', class: 'mini-btn', 'aria-label': `Remove a hidden layer from ${short}`,
          dataset: { key: 'layer-down' }, disabled: count === 0,
          onclick: () => this.onChange(path, edit.removeLayer(layers)) }, '−'),
        h('button', { type: 'button', class: 'mini-btn', 'aria-label': `Add a hidden layer to ${short}`,
          dataset: { key: 'layer-up' }, disabled: layers.length >= limits.max_layers,
          onclick: () => this.onChange(path, edit.addLayer(layers, { units: 32, activation: net === 'generator' ? 'relu' : 'leaky_relu' })) }, '+'),
        h('span', { class: 'layer-count', title: 'Hidden layers' }, `${count} ${count === 1 ? 'layer' : 'layers'}`)));

    const rows = groups.map((group, index) => {
      const dense = group.dense;
      const extra = group.after.map((l) => (l.type === 'dropout' ? `dropout ${l.p}` : l.type === 'batchnorm' ? 'batch norm' : l.type));
      return h('li', { class: 'gan-layer-row' },
        h('span', { class: 'gan-layer-index', 'aria-hidden': 'true' }, String(index + 1)),
        ...layerControls(dense, this.types.get('dense'), {
          name: `${short} layer ${index + 1}`, key: index, ladders: { units: UNITS },
          limits: { units: limits.max_units }, labels: { activation: this.activationLabels },
          onChange: (field, value) => this.onChange(path, edit.set(layers, index, field, value)),
        }),
        extra.length ? h('span', { class: 'gan-layer-extra' }, `+ ${extra.join(', ')}`) : null);
    });
    const list = h('ol', { class: 'gan-layers', dataset: { field: path } },
      rows.length ? h('li', { class: 'gan-layer-head', 'aria-hidden': 'true' }, h('span', {}, 'neurons'), h('span', {}, 'activation')) : null,
      ...rows);
    if (!rows.length) list.append(h('li', { class: 'gan-layer-none' }, 'No hidden layer: a straight linear map.'));
    const before = lead.length
      ? h('p', { class: 'gan-io-note' }, `First ${lead.map((l) => l.type).join(', ')} (from the loaded spec).`) : null;

    return [
      head,
      this.input(state),
      before,
      list,
      this.output(state),
      this.optimizer(state),
    ].filter(Boolean);
  }

  input(state) {
    const spec = state.spec;
    const image = state.isImage();
    if (this.net === 'discriminator') {
      return h('div', { class: 'gan-io', dataset: { field: 'discriminator' } },
        h('span', { class: 'gan-io-sym' }, 'x'),
        h('span', { class: 'gan-io-text' }, image ? 'an 8×8 image, real or generated' : 'a point of the plane, real or generated'));
    }
    const limits = this.catalog.gan.limits;
    const z = spec.latent_dim;
    return h('div', { class: 'gan-io gan-latent' },
      h('span', { class: 'gan-io-sym' }, 'z'),
      h('div', { class: 'field inline', dataset: { field: 'noise' } },
        h('select', {
          'aria-label': 'Latent noise', title: this.catalog.gan.noises.find((n) => n.name === spec.noise)?.description,
          dataset: { key: 'noise' }, onchange: (e) => this.onChange('noise', e.target.value),
        }, ...this.catalog.gan.noises.map((n) => option(n.name, `${n.label} noise`, n.name === spec.noise)))),
      h('div', { class: 'field inline', dataset: { field: 'latent_dim' },
        title: image ? 'How many random numbers each image is made from' : 'Latent size 1 or 2 draws the manifold' },
      stepper({
        label: 'latent dimensions', key: 'latent', value: z, text: `${z}-D`,
        downOff: z <= 1, upOff: z >= limits.max_latent_dim,
        onDown: () => this.onChange('latent_dim', ladder(LATENT, z, -1)),
        onUp: () => this.onChange('latent_dim', ladder(LATENT, z, 1, limits.max_latent_dim)),
      })));
  }

  output(state) {
    const image = state.isImage();
    if (this.net === 'generator') {
      return h('div', { class: 'gan-io' },
        h('span', { class: 'gan-io-sym arrow' }, '→'),
        h('span', { class: 'gan-io-text' }, image ? 'a fake 8×8 image (64 pixels)' : 'a fake point (x₁, x₂)'));
    }
    const critic = state.spec.gan_loss === 'wasserstein_gp';
    return h('div', { class: 'gan-io' },
      h('span', { class: 'gan-io-sym arrow' }, '→'),
      h('span', { class: 'gan-io-text' }, critic ? 'a critic score: higher means more real'
        : 'D(x): the probability that x is real'));
  }

  optimizer(state) {
    const spec = state.spec;
    const opt = spec[this.opt];
    const path = this.opt;
    const limits = this.catalog.limits;
    const info = state.optimizerInfo(opt.name);
    // Learning rate: common values, "Custom…" reveals a free entry.
    const choices = LR_CHOICES.filter((v) => v >= limits.min_lr && v <= limits.max_lr);
    const known = choices.includes(opt.lr);
    const lrSelect = h('select', {
      'aria-label': `${this.short} learning rate`, dataset: { key: 'lr' }, class: 'gan-lr',
      onchange: (e) => {
        if (e.target.value === CUSTOM) {
          custom.hidden = false;
          custom.value = String(opt.lr);
          custom.focus();
          custom.select();
          return;
        }
        this.onChange(`${path}.lr`, Number(e.target.value));
      },
    }, ...choices.map((v) => option(v, String(v), v === opt.lr)), option(CUSTOM, 'Custom…', !known));
    const custom = h('input', {
      type: 'text', inputmode: 'decimal', class: 'gan-lr-custom', 'aria-label': `${this.short} custom learning rate`,
      placeholder: 'e.g. 0.0005', hidden: known, value: known ? '' : String(opt.lr), dataset: { key: 'lr-custom' },
      onchange: (e) => {
        const text = e.target.value.trim();
        const value = text === '' ? NaN : Number(text);
        this.onChange(`${path}.lr`, Number.isFinite(value) ? value : text);
      },
    });
    const param = (info?.params || []).find((p) => PARAM[p]);
    const paramField = param ? h('div', { class: 'field inline param', dataset: { field: `${path}.${param}` } },
      h('label', { for: `${this.short}-${param}`, class: 'inline-label' }, PARAM[param].label),
      h('input', {
        type: 'number', id: `${this.short}-${param}`, value: opt[param], min: 0, max: PARAM[param].max, step: 0.05,
        inputmode: 'decimal', dataset: { key: param },
        onchange: (e) => this.onChange(`${path}.${param}`, e.target.value === '' ? '' : Number(e.target.value)),
      })) : null;
    const steps = spec[this.steps];
    const max = this.catalog.gan.limits.max_gan_steps;
    const other = this.net === 'generator' ? 'discriminator' : 'generator';
    return h('div', { class: 'gan-train' },
      h('div', { class: 'gan-train-row' },
        h('div', { class: 'field', dataset: { field: `${path}.name` } },
          h('select', {
            'aria-label': `${this.short} optimizer`, dataset: { key: 'optimizer' }, title: info?.description || '',
            onchange: (e) => this.onChange(`${path}.name`, e.target.value),
          }, ...this.catalog.optimizers.map((o) => option(o.name, o.label, o.name === opt.name)))),
        h('div', { class: 'field inline', dataset: { field: `${path}.lr` } },
          h('span', { class: 'inline-label', 'aria-hidden': 'true' }, 'lr'),
          h('div', { class: 'field-row' }, lrSelect, custom))),
      h('div', { class: 'gan-train-row' },
        paramField,
        h('div', { class: 'field inline gan-steps', dataset: { field: this.steps },
          title: `${this.short} updates in each iteration, before the ${other}'s` },
        h('span', { class: 'inline-label', 'aria-hidden': 'true' }, 'steps'),
        stepper({
          label: `${this.short} updates per iteration`, key: 'steps', value: steps, text: `${steps}×`,
          downOff: steps <= 1, upOff: steps >= max,
          onDown: () => this.onChange(this.steps, steps - 1),
          onUp: () => this.onChange(this.steps, steps + 1),
        }))));
  }
}
