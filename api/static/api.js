// Calls to the API with the operator's key, and errors as {status, code, message}.
// The key lives in sessionStorage: it survives a reload of the tab, not the tab itself.

const KEY_STORAGE = "facerec.apiKey";
const imageUrls = new Map(); // API path -> object URL of the image already fetched

export class ApiError extends Error {
  constructor(status, code, message, body = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export function hasKey() {
  return sessionStorage.getItem(KEY_STORAGE) !== null;
}

export function setKey(key) {
  sessionStorage.setItem(KEY_STORAGE, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_STORAGE);
  for (const url of imageUrls.values()) URL.revokeObjectURL(url);
  imageUrls.clear();
}

function keyHeaders() {
  const key = sessionStorage.getItem(KEY_STORAGE);
  return key ? { "X-API-Key": key } : {};
}

async function errorOf(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not the API's JSON (a proxy's page, a header limit): the status says enough
  }
  const message = body.message || `${response.status} ${response.statusText}`.trim();
  return new ApiError(response.status, body.code || "HTTP_ERROR", message, body);
}

async function send(path, init) {
  let response;
  try {
    response = await fetch(path, { ...init, headers: { ...keyHeaders(), ...init.headers } });
  } catch {
    throw new ApiError(0, "NETWORK_ERROR", "The service cannot be reached.");
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401) window.dispatchEvent(new CustomEvent("auth-refused", { detail: error }));
    throw error;
  }
  return response;
}

/** JSON in, JSON out; `form` sends multipart (FormData) instead. null for 204. */
export async function call(path, { method = "GET", json, form } = {}) {
  const init = { method, headers: {}, cache: "no-store" };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  const response = await send(path, init);
  return response.status === 204 ? null : response.json();
}

/** An object URL for an image the API serves (an <img src> cannot send the key). */
export async function imageUrl(path) {
  if (!imageUrls.has(path)) {
    const response = await send(path, { headers: {} });
    imageUrls.set(path, URL.createObjectURL(await response.blob()));
  }
  return imageUrls.get(path);
}

/** Every page of a paginated list (people), `perPage` at a time. */
export async function allPages(path, perPage = 500) {
  const items = [];
  for (let page = 1; ; page += 1) {
    const sep = path.includes("?") ? "&" : "?";
    const body = await call(`${path}${sep}page=${page}&per_page=${perPage}`);
    items.push(...body.items);
    if (items.length >= body.total || body.items.length === 0) return items;
  }
}

export const enc = encodeURIComponent;
