// REST calls. Every error body is JSON with `detail` (a sentence) and often `errors` (per field).

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail || `the server answered HTTP ${status}`);
    this.status = status;
    this.errors = body?.errors?.length ? body.errors : [this.message];
    this.retryAfter = null;
  }
}

async function request(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, { detail: `cannot reach the server (${error.message})` });
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    error.retryAfter = Number(response.headers.get('retry-after')) || null;
    throw error;
  }
  return data;
}

export const api = {
  health: () => request('GET', '/api/health'),
  catalog: () => request('GET', '/api/catalog'),
  presets: () => request('GET', '/api/presets'),
  preset: (name) => request('GET', `/api/presets/${encodeURIComponent(name)}`),
  preview(name, params = {}) {
    const query = new URLSearchParams(params).toString();
    return request('GET', `/api/datasets/${encodeURIComponent(name)}/preview?${query}`);
  },
  createJob: (spec, options = {}) => request('POST', '/api/jobs', { spec, ...options }),
  validateSpec: (spec) => request('POST', '/api/jobs?dry_run=true', { spec }),
  job: (id) => request('GET', `/api/jobs/${id}`),
  jobs: () => request('GET', '/api/jobs'),
  metrics: (id) => request('GET', `/api/jobs/${id}/metrics`),
  generate: (id, body) => request('POST', `/api/jobs/${id}/generate`, body),
  testImages: (id, start, count) => request('GET', `/api/jobs/${id}/test-images?start=${start}&count=${count}`),
  renameJob: (id, name) => request('PATCH', `/api/jobs/${id}`, { name }),
  resumeJob: (id) => request('POST', `/api/jobs/${id}/resume`),
  async deleteJob(id) {
    try {
      await request('DELETE', `/api/jobs/${id}`);
    } catch (error) {
      if (error.status !== 404) throw error;
    }
  },
  /** Where a run's files download from (plain links; the server names the files). */
  exports: (id) => ({
    csv: `/api/jobs/${id}/metrics?format=csv`,
    weights: `/api/jobs/${id}/weights`,
    onnx: `/api/jobs/${id}/onnx`,
    spec: `/api/jobs/${id}/spec`,
  }),
  /** Stop without waiting, surviving page unload (a run that trained stays, stopped). */
  endJob(id) {
    fetch(`/api/jobs/${id}/stop`, { method: 'POST', keepalive: true }).catch(() => {});
  },
  /** Delete without waiting, surviving page unload. */
  forgetJob(id) {
    fetch(`/api/jobs/${id}`, { method: 'DELETE', keepalive: true }).catch(() => {});
  },
};
