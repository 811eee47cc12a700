// Incidents: the open and recent ones; open one (Markdown previewed by the page's sanitiser, component
// statuses picked); on one incident, post an update, resolve it or correct its name. Every write sends
// the version read (If-Match): when someone changed the incident meanwhile, it is read again and what
// was typed is applied to it. The timeline shows each update with what it changed and when after the start;
// a resolved incident takes a postmortem.
import {
  IMPACTS, INCIDENT_STATUSES, announce, bodyField, checkbox, componentPickers, field, h, heading, input,
  pickedComponents, select, statusBadge, submit, when, words,
} from "./ui.js";

export async function render(screen, context) {
  return context.id ? detail(screen, context) : overview(screen, context);
}

async function overview(screen, { api }) {
  const [list, components] = await Promise.all([
    api("GET", "/incidents", { query: { limit: 25 } }), api("GET", "/components")]);
  const open = list.data.filter((i) => !["resolved", "postmortem"].includes(i.status));
  const recent = list.data.filter((i) => ["resolved", "postmortem"].includes(i.status));
  const items = (incidents) => h("ul", { class: "cards" }, incidents.map((incident) =>
    h("li", { class: `card imp-${incident.impact}` },
      h("h3", {}, h("a", { href: `#incidents/${incident.id}` }, incident.name)),
      h("p", { class: "mu sm" }, `${words(incident.status)} · ${words(incident.impact)} impact · `,
        when(incident.updated_at)))));
  screen.replaceChildren(
    heading("Incidents"),
    h("section", { "aria-labelledby": "inc-open" }, h("h2", { id: "inc-open" }, `Open (${open.length})`),
      open.length ? items(open) : h("p", {}, "No incident is open.")),
    compose(components.data, api),
    h("section", { "aria-labelledby": "inc-recent" }, h("h2", { id: "inc-recent" }, "Recently resolved"),
      recent.length ? items(recent) : h("p", {}, "None yet.")),
  );
}

function compose(components, api) {
  const name = input("name", { required: true, maxlength: 200 });
  const form = h("form", { class: "card", novalidate: true },
    field("Title customers read", name, "e.g. Instagram DMs are delayed – email us instead"),
    bodyField("body", "What is happening and what customers can do", api),
    h("div", { class: "pair" },
      field("Impact", select("impact", IMPACTS.map((i) => [i, words(i)]), "minor")),
      field("Status", select("status", INCIDENT_STATUSES.slice(0, 3).map((s) => [s, words(s)]), "investigating"))),
    componentPickers(components),
    checkbox("notify", "Tell subscribers (email, SMS and the rest)"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Open the incident")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, async () => {
      const values = new FormData(form);
      const opened = await api("POST", "/incidents", { body: {
        name: values.get("name"), body: values.get("body"), impact: values.get("impact"),
        status: values.get("status"), components: pickedComponents(form), notify: values.get("notify") === "on",
      } });
      announce(`Opened: ${opened.name}`);
      window.location.hash = `#incidents/${opened.id}`;
    });
  });
  return h("section", { "aria-labelledby": "inc-new" }, h("h2", { id: "inc-new" }, "Open an incident"), form);
}

async function detail(screen, { api, id }) {
  const [first, components] = await Promise.all([api("GET", `/incidents/${id}`), api("GET", "/components")]);
  const state = { incident: first };
  const names = Object.fromEntries(components.data.map((c) => [c.id, c.name]));
  const title = heading(first.name);
  const summary = h("div");
  const entries = h("ol", { class: "timeline" });
  const told = h("div");
  const reload = async () => {
    state.incident = await api("GET", `/incidents/${id}`);
    draw();
  };
  const draw = () => {
    const incident = state.incident;
    title.textContent = incident.name;
    summary.replaceChildren(
      h("p", { class: "meta" }, `${words(incident.status)} · ${words(incident.impact)} impact · started `,
        when(incident.started_at), ` · version ${incident.version}`),
      h("ul", { class: "inline" }, Object.entries(incident.components).map(([cid, status]) =>
        h("li", {}, `${names[cid] || cid}: `, statusBadge(status)))));
    entries.replaceChildren(...timelineOf(incident, names));
    told.replaceChildren(incident.postmortem ? h("div", { class: "quote" }, h("p", { class: "body" }, incident.postmortem))
      : h("p", {}, "No postmortem yet."));
  };
  draw();
  const closed = ["resolved", "postmortem"].includes(first.status);
  screen.replaceChildren(...[
    h("p", {}, h("a", { href: "#incidents" }, "← All incidents")),
    title, summary,
    closed ? null : updateForm(state, components.data, api, reload),
    closed ? null : resolveForm(state, api, reload),
    h("section", { "aria-labelledby": "inc-timeline" }, h("h2", { id: "inc-timeline" }, "Updates, newest first"),
      h("p", { class: "mu sm" }, duration(first)), entries),
    closed ? h("section", { "aria-labelledby": "inc-pm" }, h("h2", { id: "inc-pm" }, "Postmortem"), told,
      postmortemForm(state, api, reload)) : null,
    renameForm(state, api, reload),
  ].filter(Boolean));
}

function timelineOf(incident, names) {
  return timeline(incident.incident_updates, names, incident.started_at || incident.created_at);
}

function minutes(from, to) {
  const total = Math.max(0, Math.round((new Date(to) - new Date(from)) / 60000));
  return total < 60 ? `${total} min` : `${Math.floor(total / 60)} h ${total % 60} min`;
}

function duration(incident) {
  const start = incident.started_at || incident.created_at;
  return incident.resolved_at ? `Resolved ${minutes(start, incident.resolved_at)} after it started.`
    : `Open for ${minutes(start, new Date().toISOString())} so far.`;
}

// Updates (newest first, as the API gives them) as timeline entries: status, when, how long after
// ``start``, what each changed on the page's components, whether subscribers were told.
export function timeline(updates, names, start) {
  return updates.map((update) => h("li", { class: "tl" },
    h("p", { class: "sm" }, h("strong", {}, words(update.status)), " · ", when(update.display_at || update.created_at),
      start ? ` · ${minutes(start, update.display_at || update.created_at)} after the start` : "",
      update.deliver_notifications ? " · subscribers told" : ""),
    update.affected_components.length ? h("ul", { class: "inline sm" }, update.affected_components.map((change) =>
      h("li", {}, `${names[change.component_id] || change.component_id}: `,
        change.old_status ? [statusBadge(change.old_status), " → "] : null, statusBadge(change.new_status)))) : null,
    update.body ? h("p", { class: "body" }, update.body) : null));
}

function postmortemForm(state, api, reload) {
  const form = h("form", { class: "card", novalidate: true },
    bodyField("body", "What happened, why, and what changes", api, state.incident.postmortem || ""),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Publish the postmortem")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, async () => {
      state.incident = await api("PUT", `/incidents/${state.incident.id}/postmortem`,
        { version: state.incident.version, body: { body: form.elements.body.value } });
      await reload();
      announce("Postmortem published.");
    }, { reload });
  });
  return form;
}

function updateForm(state, components, api, reload) {
  const form = h("form", { class: "card", novalidate: true },
    field("Status", select("status", INCIDENT_STATUSES.slice(0, 3).map((s) => [s, words(s)]), state.incident.status)),
    bodyField("body", "Update", api),
    componentPickers(components),
    checkbox("notify", "Tell subscribers"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Post the update")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, async () => {
      const values = new FormData(form);
      state.incident = await api("POST", `/incidents/${state.incident.id}/updates`, {
        version: state.incident.version,
        body: { status: values.get("status"), body: values.get("body"), components: pickedComponents(form),
                notify: values.get("notify") === "on" },
      });
      form.reset();
      form.querySelector("select[name=status]").value = state.incident.status;
      await reload();
      announce("Update posted.");
    }, { reload });
  });
  return h("section", { "aria-labelledby": "inc-update" }, h("h2", { id: "inc-update" }, "Post an update"), form);
}

function resolveForm(state, api, reload) {
  const form = h("form", { class: "card", novalidate: true },
    bodyField("body", "What customers read", api, "This incident has been resolved."),
    checkbox("notify", "Tell subscribers"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Resolve the incident")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, async () => {
      const values = new FormData(form);
      const resolved = await api("POST", `/incidents/${state.incident.id}/resolve`, {
        version: state.incident.version, body: { body: values.get("body"), notify: values.get("notify") === "on" },
      });
      announce(`Resolved: ${resolved.name}`);
      window.location.hash = "#incidents";
    }, { reload });
  });
  return h("section", { "aria-labelledby": "inc-resolve" }, h("h2", { id: "inc-resolve" }, "Resolve"), form);
}

function renameForm(state, api, reload) {
  const name = input("name", { required: true, maxlength: 200, value: state.incident.name });
  const form = h("form", { class: "card", novalidate: true },
    field("Title", name, "Correct a typo; nobody is notified."),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "secondary" }, "Save the title")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, async () => {
      state.incident = await api("PATCH", `/incidents/${state.incident.id}`,
        { version: state.incident.version, body: { name: name.value } });
      await reload();
      announce("Title saved.");
    }, { reload });
  });
  return h("section", { "aria-labelledby": "inc-rename" }, h("h2", { id: "inc-rename" }, "Correct the title"), form);
}
