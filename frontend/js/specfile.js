// Spec files: read one a person picked (a run's exported spec JSON, or a job body with `spec`)
// and tell which of its fields the playground's controls cannot hold.

import { PROPS } from './state.js';

// Fields the playground sets itself: the task follows the dataset, the name is the run's,
// and single runs train until paused.
const OWN = ['name', 'task', 'max_steps'];

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

/** Dotted paths of `spec` that no control holds (e.g. fields of a kind of run the page cannot show). */
export function unusedPaths(spec) {
  const used = [...PROPS.filter((p) => p.path).map((p) => p.path), ...OWN];
  const out = [];
  const walk = (node, prefix) => {
    for (const [key, value] of Object.entries(node)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (used.some((u) => u === path || path.startsWith(`${u}.`))) continue;
      if (value && typeof value === 'object' && !Array.isArray(value)
          && used.some((u) => u.startsWith(`${path}.`))) walk(value, path);
      else out.push(path);
    }
  };
  walk(spec, '');
  return out;
}
