// The HTTP API at this page's own origin, with the agent's bearer token.
// The token lives in sessionStorage: a reload keeps the agent signed in, closing the tab (or
// signing out) forgets it, and other tabs or windows never pick it up by accident.

const TOKEN_KEY = "shareline.token";

export class ApiError extends Error {
  constructor(status, code, message, fields, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields || {};
    this.details = details || {}; // facts a client acts on, e.g. disposition_required's interaction_ids
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

let onUnauthorized = () => {};
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

export async function request(method, path, body, { raw = false, accept = null } = {}) {
  const headers = {};
  if (accept) headers.Accept = accept;
  const current = token.get();
  if (current) headers.Authorization = `Bearer ${current}`;
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers, body: payload });
  if (response.status === 401 && path !== "/api/auth/login") onUnauthorized();
  if (!response.ok) {
    let error = {};
    try {
      error = (await response.json()).error || {};
    } catch {
      /* not JSON: keep the status line */
    }
    throw new ApiError(response.status, error.code || "http_" + response.status,
      error.message || response.statusText, error.fields, error.details);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, body) => request("POST", path, body ?? {}),
  put: (path, body) => request("PUT", path, body),
  patch: (path, body) => request("PATCH", path, body),
  delete: (path) => request("DELETE", path),
  blob: async (path) => (await request("GET", path, undefined, { raw: true })).blob(),
};

export const interactionPath = (id, rest = "") => `/api/whatsapp/interactions/${id}${rest}`;
