// One layer's controls, built from the catalog's `layer_types[*].controls` (type, default,
// min/max, choices): a stepper for an integer, a menu for a choice, a number field for a float,
// a checkbox for a switch. A new layer type needs no page code to be edited.

import { h } from './util.js';

// How a field reads in labels ("More neurons in D layer 1"); other fields read as their name.
const WORDS = { units: 'neurons', kernel_size: 'kernel size', p: 'dropout rate' };
const word = (field) => WORDS[field] ?? field.replace(/_/g, ' ');
const capital = (text) => text[0].toUpperCase() + text.slice(1);

/** The next value up or down a ladder from `value` (which need not be on it). */
export function ladder(values, value, direction, max = Infinity) {
  const list = values.filter((v) => v <= max);
  if (direction > 0) return list.find((v) => v > value) ?? value;
  return [...list].reverse().find((v) => v < value) ?? value;
}

export function stepper({ label, value, onDown, onUp, downOff, upOff, key, text }) {
  return h('span', { class: 'stepper' },
    h('button', { type: 'button', 'aria-label': `Fewer ${label}`, title: `Fewer ${label}`, disabled: downOff,
      dataset: { key: `${key}-down` }, onclick: onDown }, '−'),
    h('output', { class: 'stepper-value' }, text ?? String(value)),
    h('button', { type: 'button', 'aria-label': `More ${label}`, title: `More ${label}`, disabled: upOff,
      dataset: { key: `${key}-up` }, onclick: onUp }, '+'));
}

/**
 * The controls of `layer` (a spec layer) for its catalog entry `type`: name is how the layer
 * reads in labels ("D layer 1"), key a prefix that keeps the focus across rebuilds, ladders
 * the values an integer field steps through ({units: [1, 2, 4, ...]}), limits caps on maxima
 * ({units: 64}), labels the words for choices ({activation: {relu: 'ReLU'}}), named: each control
 * under its field's name; onChange(field, value).
 */
export function layerControls(layer, type, { name, key, ladders = {}, limits = {}, labels = {}, named = false, onChange }) {
  const controls = (type?.controls ?? []).map((control) => {
    const field = control.name;
    const value = layer[field] ?? control.default;
    const max = Math.min(control.max ?? Infinity, limits[field] ?? Infinity);
    const min = control.min ?? -Infinity;
    if (control.type === 'int' && control.nullable && (value === null || value === undefined)) {
      // Unset ("auto", e.g. a pool's stride: the kernel size): + sets the smallest value.
      return stepper({
        label: `${word(field)} in ${name}`, key: `${field}-${key}`, value: null, text: 'auto',
        downOff: true, upOff: false, onDown: () => {}, onUp: () => onChange(field, min),
      });
    }
    if (control.type === 'int') {
      const steps = ladders[field];
      const next = (direction) => (steps ? ladder(steps, value, direction, max) : value + direction);
      return stepper({
        label: `${word(field)} in ${name}`, key: `${field}-${key}`, value,
        downOff: value <= min && !control.nullable, upOff: value >= max,
        // Below its smallest value a nullable field goes back to unset ("auto").
        onDown: () => onChange(field, value <= min && control.nullable ? null : Math.max(min, next(-1))),
        onUp: () => onChange(field, Math.min(max, next(1))),
      });
    }
    if (control.type === 'choice') {
      return h('select', {
        'aria-label': `${capital(word(field))} of ${name}`, dataset: { key: `${field}-${key}` },
        onchange: (e) => onChange(field, e.target.value),
      }, ...control.choices.map((c) => h('option', { value: c, selected: c === value || undefined }, labels[field]?.[c] ?? c)));
    }
    if (control.type === 'bool') {
      return h('label', { class: 'layer-switch' },
        h('input', { type: 'checkbox', checked: !!value, dataset: { key: `${field}-${key}` },
          onchange: (e) => onChange(field, e.target.checked) }), word(field));
    }
    return h('input', {
      type: 'number', 'aria-label': `${capital(word(field))} of ${name}`, value, min: control.min, max: control.max,
      step: control.type === 'float' ? 0.05 : undefined, inputmode: 'decimal', dataset: { key: `${field}-${key}` },
      onchange: (e) => onChange(field, control.type === 'float' || control.type === 'int' ? Number(e.target.value) : e.target.value),
    });
  });
  // named: each control with its field's name above it (rows that show many fields).
  if (!named) return controls;
  return controls.map((control, i) => h('span', { class: 'layer-field' },
    h('span', { class: 'layer-field-name', 'aria-hidden': 'true' }, word(type.controls[i].name)), control));
}
