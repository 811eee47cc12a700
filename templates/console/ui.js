// Building blocks of every screen: elements, labelled fields, forms that show each API error beside
// the field it names, and the words the page uses for statuses.
import { ApiError, Unreachable } from "./api.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "html") el.innerHTML = value; // only HTML the API sanitised with the page's sanitiser
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const STATUSES = {
  operational: "Operational",
  degraded_performance: "Degraded performance",
  partial_outage: "Partial outage",
  major_outage: "Major outage",
  under_maintenance: "Under maintenance",
};
export const INCIDENT_STATUSES = ["investigating", "identified", "monitoring", "resolved"];
export const IMPACTS = ["none", "minor", "major", "critical"];

export function words(value) {
  const text = String(value || "").replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function statusBadge(status) {
  return h("span", { class: `st s-${status}` }, h("span", { class: "dot", "aria-hidden": "true" }),
    STATUSES[status] || words(status));
}

const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function when(iso) {
  if (!iso) return h("span", {}, "never");
  const moment = new Date(iso);
  const minutes = Math.round((Date.now() - moment.getTime()) / 60000);
  const ago = minutes < 1 ? "just now" : minutes < 120 ? `${minutes} min ago` : `${Math.round(minutes / 60)} h ago`;
  return h("time", { datetime: iso, title: moment.toISOString() }, `${absolute.format(moment)} (${ago})`);
}

export function heading(text) {
  return h("h1", { tabindex: "-1" }, text);
}

export function announce(text) {
  const region = document.getElementById("announce");
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 50);
}

let ids = 0;

// A labelled control with a place for its error; ``name`` is the API's field name (e.g. "components.facebook").
export function field(label, control, hint) {
  control.id = control.id || `f${++ids}`;
  const parts = [h("label", { for: control.id }, label)];
  const described = [];
  if (hint) {
    parts.push(h("p", { class: "hint", id: `${control.id}-hint` }, hint));
    described.push(`${control.id}-hint`);
  }
  const error = h("p", { class: "err", id: `${control.id}-err`, hidden: true });
  if (described.length) control.setAttribute("aria-describedby", described.join(" "));
  return h("div", { class: "field", "data-field": control.name }, parts, control, error);
}

export function input(name, attrs = {}) {
  return h("input", { name, type: "text", autocomplete: "off", ...attrs });
}

export function textarea(name, attrs = {}) {
  return h("textarea", { name, rows: 5, ...attrs });
}

export function select(name, options, chosen) {
  return h("select", { name }, options.map(([value, label]) =>
    h("option", { value, selected: value === chosen }, label)));
}

export function checkbox(name, label, checked = false) {
  const box = h("input", { type: "checkbox", name, id: `f${++ids}`, checked });
  return h("div", { class: "field check", "data-field": name }, box, h("label", { for: box.id }, label),
    h("p", { class: "err", id: `${box.id}-err`, hidden: true }));
}

export function button(text, attrs = {}) {
  return h("button", { type: "button", ...attrs }, text);
}

function formAlert(form) {
  let alert = form.querySelector(":scope > .form-err");
  if (!alert) {
    alert = h("div", { class: "form-err", role: "alert", hidden: true });
    form.prepend(alert);
  }
  return alert;
}

export function clearErrors(form) {
  for (const error of form.querySelectorAll(".err")) { error.hidden = true; error.textContent = ""; }
  for (const control of form.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
    const described = (control.getAttribute("aria-describedby") || "").split(" ").filter((id) => !id.endsWith("-err"));
    if (described.length) control.setAttribute("aria-describedby", described.join(" "));
    else control.removeAttribute("aria-describedby");
  }
  const alert = formAlert(form);
  alert.hidden = true;
  alert.replaceChildren();
}

// The field of ``form`` an API field name points at: the longest name that is it or its parent.
function fieldFor(form, name) {
  let best = null;
  for (const place of form.querySelectorAll("[data-field]")) {
    const own = place.getAttribute("data-field");
    if (own && (name === own || name.startsWith(`${own}.`)) && (!best || own.length > best.getAttribute("data-field").length)) {
      best = place;
    }
  }
  return best;
}

// The API's problems as (field, problem): its ``fields``, or a message that starts with a field's name.
function problems(error) {
  if (error.fields.length) return error.fields.map((f) => [f.field, f.problem]);
  const named = /^([a-z_][\w.]*): (.+)$/s.exec(error.message);
  return named ? [[named[1], named[2]]] : [];
}

export function showError(form, error, { retry, reload } = {}) {
  const alert = formAlert(form);
  const lines = [];
  if (error instanceof Unreachable) {
    lines.push(h("p", {}, error.message));
    if (retry) lines.push(button("Send again", { onclick: retry }));
  } else if (error instanceof ApiError && error.stale) {
    lines.push(h("p", {}, "Someone changed this since you opened it. Reload it and apply what you typed again?"));
    if (reload) lines.push(button("Reload and re-apply", { onclick: reload, class: "primary" }));
  } else if (error instanceof ApiError) {
    let first = null;
    const unplaced = [];
    for (const [name, problem] of problems(error)) {
      const place = fieldFor(form, name);
      if (!place) { unplaced.push(`${name}: ${problem}`); continue; }
      const folded = place.closest("details");
      if (folded) folded.open = true;
      const message = place.querySelector(".err");
      const control = place.querySelector("input, select, textarea");
      message.textContent = message.textContent ? `${message.textContent} ${problem}` : problem;
      message.hidden = false;
      if (control) {
        control.setAttribute("aria-invalid", "true");
        const described = new Set((control.getAttribute("aria-describedby") || "").split(" ").filter(Boolean));
        described.add(message.id);
        control.setAttribute("aria-describedby", [...described].join(" "));
        first = first || control;
      }
    }
    if (!first || unplaced.length) lines.push(h("p", {}, unplaced.length && first ? unplaced.join("; ") : error.message));
    else lines.push(h("p", {}, "Check the fields marked below."));
    if (first) first.focus();
  } else {
    lines.push(h("p", {}, `Something went wrong in the console: ${error.message}`));
  }
  alert.replaceChildren(...lines);
  alert.hidden = false;
  if (!(error instanceof ApiError) || error.stale || !form.querySelector("[aria-invalid]")) {
    alert.setAttribute("tabindex", "-1");
    alert.focus();
  }
}

// Run ``action`` for ``form``: busy while it runs, errors shown beside their fields, what was typed kept.
// ``reload`` (for a stale version) reads the record again; the action then runs once more as typed.
export async function submit(form, action, { reload } = {}) {
  clearErrors(form);
  const buttons = [...form.querySelectorAll("button")];
  buttons.forEach((b) => { b.disabled = true; });
  form.setAttribute("aria-busy", "true");
  try {
    return await action();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      document.dispatchEvent(new CustomEvent("beacon:signed-out", { detail: error.message }));
      return undefined;
    }
    showError(form, error, {
      retry: () => submit(form, action, { reload }),
      reload: reload && (async () => {
        try { await reload(); } catch (failure) { showError(form, failure); return; }
        await submit(form, action, { reload });
      }),
    });
    return undefined;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    form.removeAttribute("aria-busy");
  }
}

// A Markdown body with a Preview that shows it as the page will (the API's sanitiser).
export function bodyField(name, label, api, value = "") {
  const area = textarea(name, { required: true });
  area.value = value;
  const shown = h("div", { class: "md preview-body", hidden: true, "aria-live": "polite" });
  const toggle = button("Preview", { class: "secondary", "aria-expanded": "false" });
  toggle.addEventListener("click", async () => {
    if (!shown.hidden) {
      shown.hidden = true;
      toggle.textContent = "Preview";
      toggle.setAttribute("aria-expanded", "false");
      return;
    }
    const form = toggle.closest("form");
    const result = await submit(form, () => api("POST", "/preview", { body: { body: area.value } }));
    if (!result) return;
    shown.innerHTML = result.html || "<p><em>(empty)</em></p>";
    shown.hidden = false;
    toggle.textContent = "Hide preview";
    toggle.setAttribute("aria-expanded", "true");
  });
  return h("div", { class: "body-field" },
    field(label, area, "Markdown: **bold**, *italic*, [links](https://…) and lists."), toggle, shown);
}

// One status picker per component, folded away on a phone until wanted (an error there unfolds it).
export function componentPickers(components, chosen = {}) {
  return h("details", { class: "components-box", open: Object.keys(chosen).length > 0 },
    h("summary", {}, "Component statuses (optional)"),
    h("fieldset", { class: "components", "data-field": "components" },
      h("legend", {}, "Status each component shows"),
      h("p", { class: "err", id: `f${++ids}-err`, hidden: true }),
      components.map((c) => field(c.name, select(`components.${c.id}`,
        [["", "No change"], ...Object.entries(STATUSES)], chosen[c.id] || "")))));
}

// Components as checkboxes (maintenance windows, channels): an API error on ``components`` shows on top.
export function componentChecks(components, chosen = [], legend = "Components") {
  return h("fieldset", { class: "components", "data-field": "components" },
    h("legend", {}, legend),
    h("p", { class: "err", id: `f${++ids}-err`, hidden: true }),
    components.map((c) => {
      const item = checkbox("components", c.name, chosen.includes(c.id));
      item.querySelector("input").value = c.id;
      return item;
    }));
}

// A button that asks once more before ``action`` (cancel, delete, revoke): "Keep it" goes back.
export function confirmStep(label, yes, action) {
  const ask = button(label, { class: "secondary" });
  const sure = h("span", { class: "confirm", hidden: true },
    button(yes, { class: "primary danger", onclick: action }),
    button("Keep it", { class: "secondary", onclick: () => { sure.hidden = true; ask.hidden = false; ask.focus(); } }));
  ask.addEventListener("click", () => { ask.hidden = true; sure.hidden = false; sure.querySelector("button").focus(); });
  return h("div", { class: "actions" }, ask, sure);
}

// A labelled section of a screen: its h2 names it for screen readers.
export function section(id, title, ...children) {
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), children);
}

export function pickedComponents(form) {
  const picked = {};
  for (const control of form.querySelectorAll('select[name^="components."]')) {
    if (control.value) picked[control.name.slice("components.".length)] = control.value;
  }
  return picked;
}
