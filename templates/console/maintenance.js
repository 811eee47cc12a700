// Maintenance: the windows under way, coming and past; schedule one (its window typed in the page's time
// zone, its text previewed as the page shows it); on one, change its name, window or components, post an
// update, or cancel it. Every write sends the version read; a stale one is read again and re-applied.
import {
  announce, bodyField, checkbox, componentChecks, confirmStep, field, h, heading, input, section, submit, words,
} from "./ui.js";
import { timeline } from "./incidents.js";
import { inZone, nextHour, toInstant, toTyped, zoneHint } from "./zone.js";

const GROUPS = [
  ["mnt-active", "Under way", ["in_progress", "verifying"], "No maintenance is under way."],
  ["mnt-upcoming", "Upcoming", ["scheduled"], "None scheduled."],
  ["mnt-past", "Past", ["completed", "cancelled"], "None yet."],
];

export async function render(screen, context) {
  const [components, page] = await Promise.all([context.api("GET", "/components"), context.api("GET", "/page")]);
  const names = Object.fromEntries(components.data.map((c) => [c.id, c.name]));
  const shared = { ...context, components: components.data, names, zone: page.time_zone };
  return context.id ? detail(screen, shared) : overview(screen, shared);
}

function windowText(record, zone) {
  return [inZone(record.scheduled_for, zone), " to ", inZone(record.scheduled_until, zone)];
}

async function overview(screen, { api, components, names, zone }) {
  const list = await api("GET", "/maintenance", { query: { limit: 100 } });
  const card = (m) => h("li", { class: "card", "data-maintenance": m.id },
    h("h3", {}, h("a", { href: `#maintenance/${m.id}` }, m.name)),
    h("p", { class: "sm" }, h("strong", {}, words(m.status)), " · ", windowText(m, zone)),
    h("p", { class: "mu sm" }, m.components.map((c) => names[c] || c).join(", ")));
  screen.replaceChildren(
    heading("Maintenance"),
    ...GROUPS.slice(0, 2).map(([id, title, statuses, none]) => {
      const found = list.data.filter((m) => statuses.includes(m.status))
        .sort((a, b) => a.scheduled_for.localeCompare(b.scheduled_for));
      return section(id, `${title} (${found.length})`, found.length ? h("ul", { class: "cards" }, found.map(card)) : h("p", {}, none));
    }),
    section("mnt-new", "Schedule maintenance", scheduleForm(api, components, zone)),
    (() => {
      const [id, title, statuses, none] = GROUPS[2];
      const found = list.data.filter((m) => statuses.includes(m.status)).slice(0, 20);
      return section(id, title, found.length ? h("ul", { class: "cards" }, found.map(card)) : h("p", {}, none));
    })(),
  );
}

function windowFields(zone, record) {
  const from = input("scheduled_for", { type: "datetime-local", required: true,
    value: record ? toTyped(record.scheduled_for, zone) : nextHour(zone, 1) });
  const until = input("scheduled_until", { type: "datetime-local", required: true,
    value: record ? toTyped(record.scheduled_until, zone) : nextHour(zone, 2) });
  return h("div", { class: "pair" }, field("Starts", from, zoneHint(zone)), field("Ends", until, zoneHint(zone)));
}

function windowValues(form, zone) {
  return { scheduled_for: toInstant(form.elements.scheduled_for.value, zone),
           scheduled_until: toInstant(form.elements.scheduled_until.value, zone) };
}

function scheduleForm(api, components, zone) {
  const form = h("form", { class: "card", novalidate: true },
    field("Title customers read", input("name", { required: true, maxlength: 200 }), "e.g. Help centre upgrade"),
    bodyField("body", "What changes for customers", api),
    windowFields(zone),
    componentChecks(components, [], "Components under maintenance"),
    checkbox("notify", "Tell subscribers now, when it starts and when it ends"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Schedule")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, async () => {
      const values = new FormData(form);
      const made = await api("POST", "/maintenance", { body: {
        name: values.get("name"), body: values.get("body"), ...windowValues(form, zone),
        components: values.getAll("components"), notify: values.get("notify") === "on" } });
      announce(`Scheduled: ${made.name}`);
      window.location.hash = `#maintenance/${made.id}`;
    });
  });
  return form;
}

async function detail(screen, { api, id, components, names, zone }) {
  const state = { record: await api("GET", `/maintenance/${id}`) };
  const title = heading(state.record.name);
  const summary = h("div");
  const updates = h("ol", { class: "timeline" });
  const reload = async () => {
    state.record = await api("GET", `/maintenance/${id}`);
    draw();
  };
  const draw = () => {
    const m = state.record;
    title.textContent = m.name;
    summary.replaceChildren(
      h("p", { class: "meta" }, `${words(m.status)} · `, windowText(m, zone), ` · version ${m.version}`),
      h("p", {}, "Components: ", m.components.map((c) => names[c] || c).join(", ")));
    updates.replaceChildren(...timeline(m.incident_updates, names, null));
  };
  draw();
  const open = ["scheduled", "in_progress", "verifying"].includes(state.record.status);
  screen.replaceChildren(...[
    h("p", {}, h("a", { href: "#maintenance" }, "← All maintenance")),
    title, summary,
    open ? section("mnt-edit", "Change it", editForm(state, api, components, zone, reload)) : null,
    open ? section("mnt-cancel", "Cancel it", cancelForm(state, api, reload)) : null,
    section("mnt-updates", "Updates, newest first", updates)].filter(Boolean));
}

function editForm(state, api, components, zone, reload) {
  const m = state.record;
  const form = h("form", { class: "card", novalidate: true },
    field("Title", input("name", { required: true, maxlength: 200, value: m.name })),
    windowFields(zone, m),
    componentChecks(components, m.components, "Components under maintenance"),
    bodyField("body", "Update for customers (optional)", api),
    checkbox("notify", "Tell subscribers about this update"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save the changes")));
  form.querySelector("textarea").removeAttribute("required");
  const asOpened = (values) => ({ name: values.get("name"), ...windowValues(form, zone),
    components: values.getAll("components").sort().join(" ") });
  let opened = asOpened(new FormData(form));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, async () => {
      const values = new FormData(form);
      const text = values.get("body").trim();
      // Only what was changed here is sent: re-applied to a maintenance someone changed meanwhile, it keeps theirs.
      const changed = Object.fromEntries(Object.entries(asOpened(values)).filter(([name, value]) => value !== opened[name]));
      if ("components" in changed) changed.components = values.getAll("components");
      await api("PATCH", `/maintenance/${state.record.id}`, { version: state.record.version, body: {
        ...changed, body: text || undefined, notify: Boolean(text) && values.get("notify") === "on" } });
      form.elements.body.value = "";
      opened = asOpened(new FormData(form));
      await reload();
      announce("Maintenance saved.");
    }, { reload });
  });
  return form;
}

function cancelForm(state, api, reload) {
  const form = h("form", { class: "card", novalidate: true },
    bodyField("body", "What customers read", api, "This scheduled maintenance has been cancelled."),
    checkbox("notify", "Tell subscribers"));
  const cancel = () => submit(form, async () => {
    const values = new FormData(form);
    const done = await api("POST", `/maintenance/${state.record.id}/cancel`, { version: state.record.version,
      body: { body: values.get("body"), notify: values.get("notify") === "on" } });
    announce(`Cancelled: ${done.name}`);
    window.location.hash = "#maintenance";
  }, { reload });
  form.append(confirmStep("Cancel the maintenance", "Yes, cancel it", cancel));
  return form;
}
