// Playbooks: each prepared outage response as a card. A trigger or a resolve first shows exactly what goes
// out (GET /playbooks/{id}/preview: the same texts and renderers as the real messages), then one tap sends it.
import { announce, button, field, h, heading, input, statusBadge, submit, words } from "./ui.js";

const CHANNEL_NAMES = { email: "email", sms: "SMS", webhook: "webhook", slack: "Slack", teams: "Teams", discord: "Discord", telegram: "Telegram" };
const EFFECTS = {
  open: "This opens a new incident on the page.",
  update: "This updates the incident that is open.",
  resolve: "This resolves the open incident.",
};
const CONFIRM = { open: "Trigger now", update: "Send the update now", resolve: "Resolve now" };

export async function render(screen, { api }) {
  const [list, components] = await Promise.all([api("GET", "/playbooks"), api("GET", "/components")]);
  const names = Object.fromEntries(components.data.map((c) => [c.id, c.name]));
  screen.replaceChildren(
    heading("Playbooks"),
    h("p", {}, "Prepared responses to an outage. Preview shows exactly what goes out and to how many; "
      + "nothing is sent until you confirm."),
    h("ul", { class: "cards" }, list.data.map((playbook) => h("li", {}, card(playbook, names, api, () => render(screen, { api }))))),
  );
}

function card(playbook, names, api, reload) {
  const title = `pb-${playbook.id}`;
  const variables = Object.entries(playbook.variables).map(([name, value]) => {
    const control = input(`variables.${name}`, { value });
    return field(name, control, `Fills {${name}} in the texts.`);
  });
  const form = h("form", { class: "playbook", novalidate: true }, variables);
  const preview = h("div", { class: "preview", hidden: true });
  const showPreview = (action) => submit(form, async () => {
    const values = Object.fromEntries([...form.querySelectorAll('input[name^="variables."]')]
      .map((control) => [control.name.slice("variables.".length), control.value]));
    const shown = await api("GET", `/playbooks/${playbook.id}/preview`,
      { query: { action, variables: action === "trigger" ? asciiJson(values) : undefined } });
    preview.replaceChildren(h("div", {}, whatGoesOut(shown, names, form, api, values, preview, reload)));
    preview.hidden = false;
    preview.querySelector("h3").focus();
  });
  form.append(h("div", { class: "actions" },
    button(playbook.open_incident_id ? "Preview an update" : "Preview trigger", { class: "primary", onclick: () => showPreview("trigger") }),
    playbook.open_incident_id ? button("Preview resolve", { class: "secondary", onclick: () => showPreview("resolve") }) : null));
  return h("article", { class: "card", "aria-labelledby": title, "data-playbook": playbook.id },
    h("h2", { id: title }, playbook.name),
    playbook.description ? h("p", { class: "mu" }, playbook.description) : null,
    h("ul", { class: "inline" }, Object.entries(playbook.components).map(([id, status]) =>
      h("li", {}, `${names[id] || id}: `, statusBadge(status)))),
    playbook.open_incident_id
      ? h("p", { class: "note" }, "Open now: ", h("a", { href: `#incidents/${playbook.open_incident_id}` }, "see the incident"))
      : null,
    form, preview);
}

// The API takes query values in printable ASCII: JSON says any other character as \uXXXX.
function asciiJson(value) {
  return JSON.stringify(value).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function smsSize(sms) {
  return h("p", { class: "mu sm" }, `${sms.characters} characters · ${sms.segments} `
    + `${sms.segments === 1 ? "segment" : "segments"} (${sms.encoding})`);
}

// What readers of the site's other languages get (the first language is the default, shown above).
function inOtherLanguages(shown) {
  return Object.entries(shown.languages || {}).slice(1).map(([code, read]) => h("details", { class: "quote" },
    h("summary", {}, `In ${code}: ${read.recipients} ${read.recipients === 1 ? "subscriber" : "subscribers"}`
      + (read.translated ? "" : " (not translated: the original, with a notice in their language)")),
    read.email ? [h("p", {}, h("strong", {}, "Subject: "), read.email.subject),
      h("pre", { class: "message", lang: code }, read.email.text)] : [],
    read.sms ? [h("pre", { class: "message", "data-sms": "", lang: code }, read.sms.text), smsSize(read.sms)] : []));
}

function whatGoesOut(shown, names, form, api, values, preview, reload) {
  const heading3 = h("h3", { tabindex: "-1" }, "What goes out");
  if (shown.effect === "nothing") {
    return [heading3, h("p", {}, "No incident of this playbook is open: there is nothing to resolve.")];
  }
  const counts = Object.entries(shown.recipients).filter(([, n]) => n > 0);
  const total = counts.reduce((sum, [, n]) => sum + n, 0);
  const confirm = button(CONFIRM[shown.effect], { class: "primary danger" });
  const cancel = button("Cancel", { class: "secondary", onclick: () => { preview.hidden = true; } });
  confirm.addEventListener("click", () => submit(form, async () => {
    const path = `/playbooks/${shown.playbook_id}/${shown.action}`;
    const done = await api("POST", path, { body: shown.action === "trigger" ? { variables: values } : {} });
    const incident = done.incident || done;
    announce(shown.action === "resolve" ? "Resolved." : `Sent: ${incident.name}`);
    await reload();
  }));
  return [
    heading3,
    h("p", { class: "effect" }, EFFECTS[shown.effect]),
    h("h4", {}, "On the page"),
    h("div", { class: "quote" },
      h("p", {}, h("strong", {}, shown.name), " ", h("span", { class: "mu" }, `(${words(shown.status)})`)),
      h("div", { class: "md", html: shown.body_html }),
      h("ul", { class: "inline" }, Object.entries(shown.components).map(([id, status]) =>
        h("li", {}, `${names[id] || id}: `, statusBadge(shown.action === "resolve" ? "operational" : status))))),
    shown.notify ? [
      h("h4", {}, "Email"),
      h("div", { class: "quote" }, h("p", {}, h("strong", {}, "Subject: "), shown.email.subject),
        h("pre", { class: "message" }, shown.email.text)),
      h("h4", {}, "SMS"),
      h("div", { class: "quote" }, h("pre", { class: "message", "data-sms": "" }, shown.sms.text), smsSize(shown.sms)),
      inOtherLanguages(shown),
      h("h4", {}, "Who receives it"),
      h("p", { class: "recipients" }, total
        ? `${counts.map(([channel, n]) => `${n} ${CHANNEL_NAMES[channel] || channel}`).join(" · ")} (${total} in all)`
        : "No subscriber receives it."),
    ] : h("p", {}, "This playbook notifies no one: only the page changes."),
    h("div", { class: "actions" }, confirm, cancel),
  ];
}
