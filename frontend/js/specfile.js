// Spec files: read one a person picked (a run's exported spec JSON, or a job body with `spec`)
// and tell which of its fields the playground's controls cannot hold.

import { OPEN_ENDED_STEPS, PROPS } from './state.js';
import { fmt, getPath } from './util.js';

// Fields the playground sets itself: the task follows the dataset, the name is the run's,
// single runs train until paused, and drawn or uploaded data travels as it is.
const OWN = ['name', 'task', 'max_steps', 'dataset.points', 'dataset.labels', 'dataset.values'];
// Fields only a GAN reads: every exported spec has them (at their defaults), so a plain
// run's own export must not warn about them.
const GAN_ONLY = ['generator', 'discriminator', 'latent_dim', 'noise', 'gan_loss', 'd_steps',
  'g_steps', 'g_optimizer', 'd_optimizer', 'gradient_penalty', 'dataset.modes'];

/** The spec in a file's text; throws an Error whose message says what is wrong, in words. */
export function parseSpecText(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`it is not JSON (${error.message})`);
  }
  if (data && typeof data === 'object' && !Array.isArray(data) && data.spec && typeof data.spec === 'object') {
    data = data.spec;
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    throw new Error('it holds no experiment spec (a JSON object with dataset, model, optimizer, …)');
  }
  if ('preset' in data) {
    throw new Error(`it names the preset “${data.preset}”; pick that lesson from the Lesson menu instead`);
  }
  return data;
}

// The kinds of run the playground's controls train (others, e.g. GANs, have views of their own).
export const PLAYGROUND_TASKS = ['classification', 'regression'];

/** Whether the playground can hold and train this spec (a spec without `task` classifies). */
export const playable = (spec) => PLAYGROUND_TASKS.includes(spec.task ?? 'classification');

/**
 * Dotted paths of `spec` that no control holds (e.g. fields of a kind of run the page cannot
 * show). A field at the server's default (`defaults`, the catalog's) loses nothing: the
 * playground's runs have it too (image and sequence fields in a 2-D run's export).
 */
export function unusedPaths(spec, defaults = {}) {
  const used = [...PROPS.filter((p) => p.path).map((p) => p.path), ...OWN];
  if ((spec.task ?? 'classification') !== 'gan') used.push(...GAN_ONLY);
  const out = [];
  const walk = (node, prefix) => {
    for (const [key, value] of Object.entries(node)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (value === null || value === undefined) continue; // unset: nothing is lost
      if (JSON.stringify(getPath(defaults, path)) === JSON.stringify(value)) continue;
      if (used.some((u) => u === path || path.startsWith(`${u}.`))) continue;
      if (value && typeof value === 'object' && !Array.isArray(value)
          && used.some((u) => u.startsWith(`${path}.`))) walk(value, path);
      else out.push(path);
    }
  };
  walk(spec, '');
  return out;
}

/**
 * What an import says about the original's length: `steps` is the run's real step count
 * where known (a stored run); a page-made run (open-ended max_steps) trained until paused.
 */
export function stepsNote(spec, steps = null) {
  const max = spec.max_steps;
  const until = 'here it trains until you pause';
  if (Number.isInteger(steps) && steps > 0) return ` (the original trained ${fmt.int(steps)} steps; ${until})`;
  if (!Number.isInteger(max) || max >= OPEN_ENDED_STEPS) return '';
  return ` (the original stopped at ${fmt.int(max)} steps; ${until})`;
}
