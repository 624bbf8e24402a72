// The hidden stack as the page edits it: dense layers, each optionally followed by batch norm
// and dropout. Converts to and from the spec's flat `model.layers` list without losing layers.

/** Split spec layers into {lead, groups}: lead = modifiers before the first dense layer. */
export function toGroups(layers) {
  const lead = [];
  const groups = [];
  for (const layer of layers) {
    if (layer.type === 'dense' || layer.type === undefined) {
      groups.push({ dense: { type: 'dense', ...layer }, after: [] });
    } else if (groups.length) {
      groups.at(-1).after.push(layer);
    } else {
      lead.push(layer);
    }
  }
  return { lead, groups };
}

export function fromGroups({ lead, groups }) {
  return [...lead, ...groups.flatMap((g) => [g.dense, ...g.after])];
}

export const dropoutOf = (group) => group.after.find((l) => l.type === 'dropout')?.p ?? 0;
export const hasBatchNorm = (group) => group.after.some((l) => l.type === 'batchnorm');

/** Edits on the hidden stack; each returns new spec layers. */
export const edit = {
  addLayer(layers, { units = 4, activation = 'tanh' } = {}) {
    const stack = toGroups(layers);
    const last = stack.groups.at(-1)?.dense;
    stack.groups.push({
      dense: { type: 'dense', units: last?.units ?? units, activation: last?.activation ?? activation },
      after: [],
    });
    return fromGroups(stack);
  },
  removeLayer(layers) {
    const stack = toGroups(layers);
    stack.groups.pop();
    return fromGroups(stack);
  },
  units(layers, index, delta, max = 256) {
    const stack = toGroups(layers);
    const dense = stack.groups[index].dense;
    dense.units = Math.max(1, Math.min(max, dense.units + delta));
    return fromGroups(stack);
  },
  /** Set one field of the dense layer of group `index` (a control built from the catalog). */
  set(layers, index, field, value) {
    const stack = toGroups(layers);
    stack.groups[index].dense[field] = value;
    return fromGroups(stack);
  },
  activation(layers, index, activation) {
    const stack = toGroups(layers);
    const targets = index === null ? stack.groups : [stack.groups[index]];
    for (const g of targets) g.dense.activation = activation;
    return fromGroups(stack);
  },
  dropout(layers, index, p) {
    const stack = toGroups(layers);
    const group = stack.groups[index];
    group.after = group.after.filter((l) => l.type !== 'dropout');
    if (p > 0) group.after.push({ type: 'dropout', p });
    return fromGroups(stack);
  },
  batchNorm(layers, index, on) {
    const stack = toGroups(layers);
    const group = stack.groups[index];
    group.after = group.after.filter((l) => l.type !== 'batchnorm');
    if (on) group.after.unshift({ type: 'batchnorm' });
    return fromGroups(stack);
  },
};
