// The API as the console calls it: the key from sessionStorage, JSON both ways, the API's errors as ApiError
// (status, code, message, fields), and Unreachable when the network or the API is down.

const KEY = "beacon.key";
export const API_URL = (document.querySelector('meta[name="beacon-api"]')?.content || "").replace(/\/+$/, "");

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(value) { sessionStorage.setItem(KEY, value); },
  clear() { sessionStorage.removeItem(KEY); },
};

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `the API answered ${status}`);
    this.status = status;
    this.code = (body && body.error) || "error";
    this.fields = (body && Array.isArray(body.fields)) ? body.fields : [];
  }

  get stale() { return this.status === 409 || this.status === 412; }
}

export class Unreachable extends Error {}

const watchers = new Set();

// fn(reachable: boolean, why: string) on every change of the API's reachability.
export function watchReachability(fn) { watchers.add(fn); }

let reachable = true;
function tell(now, why = "") {
  if (now === reachable && now) return;
  reachable = now;
  watchers.forEach((fn) => fn(now, why));
}

// ``text``: the answer's text as it is (a CSV download) rather than JSON.
export async function api(method, path, { body, version, query, key, text: asText } = {}) {
  if (!API_URL) {
    throw new Unreachable("This console does not know the API's address: the page was published without API_URL.");
  }
  const url = new URL(API_URL + path);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: asText ? "text/csv, application/json" : "application/json", Authorization: `Bearer ${key || session.key || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (version !== undefined && version !== null) headers["If-Match"] = `"${version}"`;
  let response;
  try {
    response = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
    });
  } catch {
    const why = navigator.onLine === false ? "You are offline." : "The API cannot be reached.";
    tell(false, why);
    throw new Unreachable(`${why} Nothing was sent; what you typed is kept.`);
  }
  if ([502, 503, 504].includes(response.status)) {
    tell(false, "The API is not answering.");
    throw new Unreachable("The API is not answering. Nothing was sent; what you typed is kept.");
  }
  tell(true);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) throw new ApiError(response.status, data);
  return asText ? text : data;
}
