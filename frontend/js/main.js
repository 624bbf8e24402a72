// The page's start: load the catalog and lessons, register the labs with the lab shell (each
// says what it trains and how it is built) and open the view the address names.

import { api } from './api.js';
import { CnnLab } from './cnn.js';
import { isImageRun } from './cnnstate.js';
import { GanLab } from './gan.js';
import { RnnLab } from './rnn.js';
import { isSequenceRun } from './rnnstate.js';
import { watchHealth } from './health.js';
import { Playground } from './playground.js';
import { Shell, stampParts } from './shell.js';
import { playable } from './specfile.js';
import { $, setText } from './util.js';

async function main() {
  stampParts(); // the labs' shared markup (index.html's #part-… templates) before any lab reads it
  let catalog;
  let presets;
  try {
    [catalog, { presets }] = await Promise.all([api.catalog(), api.presets()]);
  } catch (error) {
    document.body.classList.add('failed');
    $('#boot-error').hidden = false;
    setText($('#boot-error-text'), error.message);
    return;
  }
  const health = await api.health().catch(() => null);
  watchHealth($('#health-banner'), $('#health-banner-text'), health);
  // Lessons on image sets belong to the CNN lab, on sequences to the RNN lab (each preset says
  // which kind of data it trains on).
  const cnnLessons = new Set(presets.filter((p) => p.kind === 'image' && p.task === 'classification').map((p) => p.name));
  // The playground trains classifiers and regressors; GAN lessons and targets have their
  // own lab. Each lab registers what it trains; the shell does the rest.
  const shell = new Shell({
    catalog, health,
    labs: [
      {
        name: 'playground', title: 'nnplay · neural network playground', label: 'playground',
        roots: ['#playground-toolbar', '#playground'],
        accepts: (spec) => spec.task !== 'gan' && !isImageRun(spec, catalog) && !isSequenceRun(spec, catalog),
        refuses: (spec, source) => (playable(spec) ? null : `${source} describes a ${spec.task} run; the playground `
          + 'trains classification and regression runs. Start it over REST (POST /api/jobs) instead.'),
        create: (options) => new Playground({
          ...options,
          catalog: { ...catalog, datasets: catalog.datasets.filter((d) => d.task !== 'gan' && d.kind === 'points2d') },
          presets: presets.filter((p) => p.task !== 'gan' && (p.kind ?? 'points2d') === 'points2d'),
        }),
      },
      {
        name: 'gan', title: 'GAN lab · nnplay', label: 'GAN lab', roots: ['#gan-view'],
        accepts: (spec) => spec.task === 'gan',
        create: (options) => new GanLab({ ...options, catalog, presets: presets.filter((p) => p.task === 'gan' && !p.race) }),
      },
      {
        name: 'cnn', title: 'CNN lab · nnplay', label: 'CNN lab', roots: ['#cnn-view'],
        accepts: (spec) => isImageRun(spec, catalog),
        create: (options) => new CnnLab({ ...options, catalog, presets: presets.filter((p) => cnnLessons.has(p.name)) }),
      },
      {
        name: 'rnn', title: 'RNN lab · nnplay', label: 'RNN lab', roots: ['#rnn-view'],
        accepts: (spec) => isSequenceRun(spec, catalog),
        create: (options) => new RnnLab({ ...options, catalog, presets: presets.filter((p) => p.kind === 'sequence') }),
      },
    ],
  });
  // For the console and the browser tests: the playground, with the shell's parts beside it.
  const playground = shell.lab('playground');
  Object.defineProperties(playground, {
    shell: { value: shell },
    gan: { get: () => shell.labs.get('gan') ?? null },
    cnn: { get: () => shell.labs.get('cnn') ?? null },
    rnn: { get: () => shell.labs.get('rnn') ?? null },
    runs: { value: shell.runs },
    share: { value: shell.share },
  });
  window.nnplay = playground;
  await shell.start();
  document.body.classList.add('ready');
}

main();
