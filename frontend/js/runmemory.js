// Which run each view of this tab holds, kept in sessionStorage so a reload comes back to it.
//
// sessionStorage belongs to one tab: two tabs on one link hold two runs. An entry is
// {id, spec, playing}: `spec` is the JSON the run was created from, so a reload that opens
// other settings (an edited link) prepares a fresh run instead.

const PREFIX = 'nnplay.run.';

function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: every load prepares a fresh run
  }
}

export const runMemory = {
  /** The remembered entry for `key`, if it was made for `spec`. */
  recall(key, spec) {
    try {
      const entry = JSON.parse(storage()?.getItem(PREFIX + key) || 'null');
      return entry && entry.spec === JSON.stringify(spec) ? entry : null;
    } catch {
      return null;
    }
  },

  remember(key, id, spec, playing = false) {
    storage()?.setItem(PREFIX + key, JSON.stringify({ id, spec: JSON.stringify(spec), playing }));
  },

  /** Note whether the remembered run trains (a reload then keeps it training). */
  setPlaying(key, id, playing) {
    const store = storage();
    try {
      const entry = JSON.parse(store?.getItem(PREFIX + key) || 'null');
      if (entry?.id === id && entry.playing !== playing) {
        store.setItem(PREFIX + key, JSON.stringify({ ...entry, playing }));
      }
    } catch {
      // a broken entry is ignored; the next run replaces it
    }
  },

  forget(key) {
    storage()?.removeItem(PREFIX + key);
  },
};
