// The console's entry: sign-in (a pasted key, or a one-time #key=... link read once and removed from the
// address), the key kept in sessionStorage only, the screens by the address's fragment, the offline banner.
import { API_URL, ApiError, Unreachable, api, session, watchReachability } from "./api.js";
import { announce, button, field, h, heading, input, submit } from "./ui.js";
import * as admin from "./admin.js";
import * as incidents from "./incidents.js";
import * as keys from "./keys.js";
import * as maintenance from "./maintenance.js";
import * as notices from "./notices.js";
import * as now from "./now.js";
import * as playbooks from "./playbooks.js";
import * as subscribers from "./subscribers.js";

const SCREENS = { now, playbooks, incidents, maintenance, notices, subscribers, keys, admin };
const ADMIN_ONLY = new Set(["keys", "admin"]);
const screen = document.getElementById("screen");
let me = null;
let shown = null; // the fragment last rendered

function takeKeyFromLink() {
  const found = /^#key=([^&]+)/.exec(window.location.hash);
  if (!found) return false;
  session.key = decodeURIComponent(found[1]);
  // The key leaves the address bar and the history at once.
  window.history.replaceState(null, "", `${window.location.pathname}${window.location.search}#now`);
  return true;
}

function route() {
  const [name, ...rest] = window.location.hash.replace(/^#/, "").split("/");
  return { name: SCREENS[name] ? name : null, id: rest.join("/") || null };
}

async function show(force = false) {
  if (!me) return;
  const { name, id } = route();
  if (!name) {
    if (!shown) window.location.replace("#now");
    return; // "#screen" (the skip link) and the like are not screens
  }
  if (ADMIN_ONLY.has(name) && me.scope !== "admin") {
    window.location.replace("#now");
    return;
  }
  const fragment = window.location.hash;
  if (fragment === shown && !force) return;
  const first = shown === null;
  shown = fragment;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.getAttribute("href") === `#${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  screen.replaceChildren(h("p", { class: "mu" }, "Loading…"));
  try {
    await SCREENS[name].render(screen, { api, me, id });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return signOut(error.message);
    screen.replaceChildren(heading("Not loaded"), h("p", {}, error.message),
      button("Try again", { class: "primary", onclick: () => show(true) }));
  }
  const title = screen.querySelector("h1");
  document.title = `${title ? title.textContent : "Console"} · Beacon console`;
  if (!first && title) title.focus();
}

function signedIn(key) {
  me = key;
  document.getElementById("who-name").textContent = `${key.name} (${key.scope})`;
  document.getElementById("who").hidden = false;
  document.getElementById("nav").hidden = false;
  for (const link of document.querySelectorAll("#nav [data-admin]")) link.hidden = key.scope !== "admin";
  shown = null;
  if (!route().name) window.location.replace("#now");
  show(true);
}

function signOut(message) {
  session.clear();
  me = null;
  shown = null;
  document.getElementById("who").hidden = true;
  document.getElementById("nav").hidden = true;
  showSignIn(message);
}

function showSignIn(message) {
  const key = input("key", { type: "password", autocomplete: "off", spellcheck: "false", required: true });
  const form = h("form", { class: "card narrow", novalidate: true },
    field("API key", key, "Paste the key an admin gave you (it starts with bk_). It stays in this tab only."),
    h("button", { type: "submit", class: "primary" }, "Sign in"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, async () => {
      if (!key.value.trim()) {
        throw new ApiError(422, { message: "key: paste your API key", fields: [{ field: "key", problem: "paste your API key" }] });
      }
      let found;
      try {
        found = await api("GET", "/me", { key: key.value.trim() });
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          throw new ApiError(422, { message: error.message, fields: [{ field: "key", problem: error.message }] });
        }
        throw error;
      }
      session.key = key.value.trim();
      signedIn(found);
      announce(`Signed in as ${found.name}`);
    });
  });
  screen.replaceChildren(...[heading("Sign in"), message ? h("p", { class: "note", role: "status" }, message) : null, form]
    .filter(Boolean));
  if (!API_URL) {
    screen.append(h("p", { class: "form-err" }, "This console does not know the API's address: the page was "
      + "published without API_URL. Publish it again with API_URL set."));
  }
}

function watchBanner() {
  const banner = document.getElementById("banner");
  const text = document.getElementById("banner-text");
  watchReachability((reachable, why) => {
    banner.hidden = reachable;
    if (!reachable) text.textContent = `${why} What you type is kept; it is sent when you try again.`;
  });
  window.addEventListener("offline", () => {
    banner.hidden = false;
    text.textContent = "You are offline. What you type is kept; it is sent when you try again.";
  });
  document.getElementById("banner-retry").addEventListener("click", async () => {
    try {
      await api("GET", "/me");
      banner.hidden = true;
      if (!screen.querySelector("form textarea, form input[type=text]")) show(true);
    } catch (error) {
      if (!(error instanceof Unreachable)) banner.hidden = true;
    }
  });
}

async function signIn() {
  if (!session.key) return showSignIn();
  screen.replaceChildren(h("p", { class: "mu" }, "Signing in…"));
  try {
    signedIn(await api("GET", "/me"));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return signOut(error.message);
    screen.replaceChildren(heading("Not signed in yet"), h("p", {}, error.message),
      button("Try again", { class: "primary", onclick: () => signIn() }));
  }
  return undefined;
}

function start() {
  takeKeyFromLink();
  watchBanner();
  document.getElementById("sign-out").addEventListener("click", () => {
    signOut("Signed out. The key is no longer kept in this tab.");
    announce("Signed out");
  });
  document.addEventListener("beacon:signed-out", (event) => signOut(`Signed out: ${event.detail}`));
  window.addEventListener("hashchange", () => {
    // A sign-in link opened in a tab that is signed in already: its key replaces the tab's.
    if (takeKeyFromLink() || (!me && session.key)) return signIn();
    return show();
  });
  signIn();
}

start();
