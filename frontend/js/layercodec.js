// Layers in a share link, for every layer type the catalog lists (and any it does not, yet).
// A layer is written generically as `type(field.value~field.value)`, its fields in the order of
// the catalog's `controls`: e.g. `lstm(units.16)`, `conv2d(filters.8~kernel_size.3)`. The short
// forms links have always used stay, where they say the same layer: dense "8.tanh", dropout
// "d0.3", batch norm "bn", "flat", pooling "mp2" / "ap2", convolution "c8k3s1p0.relu". Layers
// are comma separated; old links decode as before.

const GENERIC = /^([a-z_][a-z0-9_]*)\((.*)\)$/;

// The short forms: how each writes a layer, and reads one back (null: not this form).
const SHORT = [
  { type: 'batchnorm', write: () => 'bn', read: (t) => (t === 'bn' ? {} : null) },
  { type: 'flatten', write: () => 'flat', read: (t) => (t === 'flat' ? {} : null) },
  { type: 'dropout', write: (l) => `d${l.p}`, read: (t) => (/^d[\d.]+$/.test(t) ? { p: Number(t.slice(1)) } : null) },
  { type: 'maxpool2d', write: (l) => `mp${l.kernel_size}`, read: (t) => (/^mp\d+$/.test(t) ? { kernel_size: Number(t.slice(2)) } : null) },
  { type: 'avgpool2d', write: (l) => `ap${l.kernel_size}`, read: (t) => (/^ap\d+$/.test(t) ? { kernel_size: Number(t.slice(2)) } : null) },
  {
    type: 'conv2d',
    write: (l) => `c${l.filters}k${l.kernel_size}s${l.stride ?? 1}p${l.padding ?? 0}.${l.activation}`,
    read: (t) => {
      const m = /^c(\d+)k(\d+)s(\d+)p(\d+)\.(\w+)$/.exec(t);
      return m && { filters: Number(m[1]), kernel_size: Number(m[2]), stride: Number(m[3]), padding: Number(m[4]), activation: m[5] };
    },
  },
  {
    type: 'dense',
    write: (l) => `${l.units}.${l.activation}`,
    read: (t) => {
      const m = /^(\d+)(?:\.(\w+))?$/.exec(t);
      return m && { units: Number(m[1]), activation: m[2] || 'tanh' };
    },
  },
];

/** A field's value from its link text, by the catalog control's type (guessed without one). */
function readValue(text, control) {
  const type = control?.type;
  if (type === 'int' || type === 'float') return Number(text);
  if (type === 'bool') return text === 'true' || text === '1';
  if (type === 'choice' || type === 'str') return text;
  if (text === 'true' || text === 'false') return text === 'true';
  return text !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
}

/** Encode and decode a layer list for the catalog's `layer_types` ([{name, controls}, ...]). */
export function layerCodec(layerTypes = []) {
  const types = new Map(layerTypes.map((t) => [t.name, t]));
  const controlsOf = (type) => types.get(type)?.controls ?? [];

  /** Whether a short form read back says the same layer (fields it adds hold the defaults). */
  // (An unset field, null or absent, reads the same either way.)
  const same = (layer, back) => back && Object.entries(layer).every(([k, v]) => k === 'type' || (back[k] ?? null) === (v ?? null))
    && Object.entries(back).every(([k, v]) => k in layer
      || controlsOf(layer.type).some((c) => c.name === k && c.default === v));

  const generic = (layer) => {
    const order = controlsOf(layer.type).map((c) => c.name);
    const keys = Object.keys(layer).filter((k) => k !== 'type' && layer[k] !== undefined && layer[k] !== null);
    keys.sort((a, b) => (order.includes(a) ? order.indexOf(a) : 1e3) - (order.includes(b) ? order.indexOf(b) : 1e3)
      || a.localeCompare(b));
    return `${layer.type}(${keys.map((k) => `${k}.${encodeURIComponent(String(layer[k]))}`).join('~')})`;
  };

  const encodeLayer = (layer) => {
    const typed = { ...layer, type: layer.type ?? 'dense' };
    const short = SHORT.find((s) => s.type === typed.type);
    if (short) {
      const token = short.write(typed);
      if (same(typed, short.read(token))) return token;
    }
    return generic(typed);
  };

  const decodeLayer = (token) => {
    const m = GENERIC.exec(token);
    if (m) {
      const [, type, body] = m;
      const layer = { type };
      for (const pair of body ? body.split('~') : []) {
        const at = pair.indexOf('.');
        if (at < 1) continue;
        const key = pair.slice(0, at);
        let text;
        try {
          text = decodeURIComponent(pair.slice(at + 1));
        } catch {
          continue; // a mangled value: the server's default stays
        }
        layer[key] = readValue(text, controlsOf(type).find((c) => c.name === key));
      }
      return layer;
    }
    for (const short of SHORT) {
      const fields = short.read(token);
      if (fields) return { type: short.type, ...fields };
    }
    // Anything else read as dense, as links always were ("8" is 8 tanh units).
    const [units, activation] = token.split('.');
    return { type: 'dense', units: Number(units), activation: activation || 'tanh' };
  };

  return {
    encode: (layers) => layers.map(encodeLayer).join(','),
    decode: (text) => (text ? text.split(',').map(decodeLayer) : []),
  };
}
