// Admin (admin keys only): webhook and chat-channel subscribers (the list with their status, adding one,
// its signing secret shown once, enabling one disabled after failures) and the audit log, newest first, paged.
import {
  announce, button, componentChecks, field, h, heading, input, section, select, submit, when, words,
} from "./ui.js";
import { CHANNELS } from "./subscribers.js";

const KINDS = [["slack", "Slack"], ["teams", "Microsoft Teams"], ["discord", "Discord"], ["telegram", "Telegram"],
  ["webhook", "Webhook (signed JSON to your own URL)"]];

export async function render(screen, { api }) {
  const [listed, components] = await Promise.all([api("GET", "/channels"), api("GET", "/components")]);
  const names = Object.fromEntries(components.data.map((c) => [c.id, c.name]));
  const rows = h("ul", { class: "keys" });
  const draw = (data) => rows.replaceChildren(...(data.length ? data.map((s) => row(s, names, api, refresh))
    : [h("li", {}, "None yet.")]));
  const refresh = async () => draw((await api("GET", "/channels")).data);
  draw(listed.data);
  screen.replaceChildren(
    heading("Admin"),
    section("adm-channels", "Webhooks and chat channels", rows),
    section("adm-new", "Add a webhook or chat channel", addForm(components.data, api, refresh)),
    section("adm-audit", "Audit log", await auditLog(api)));
}

function row(subscriber, names, api, refresh) {
  const form = h("form", { class: "row key", novalidate: true, "data-channel": subscriber.id },
    h("div", {}, h("strong", {}, subscriber.label || subscriber.id), ` · ${CHANNELS[subscriber.channel] || subscriber.channel} · `,
      h("span", { class: subscriber.status === "disabled" ? "err" : "" }, words(subscriber.status)),
      h("p", { class: "mu sm" }, h("code", { class: "wrap" }, subscriber.destination), " · ",
        subscriber.components.length ? subscriber.components.map((c) => names[c] || c).join(", ") : "every component",
        " · added ", when(subscriber.created_at)),
      subscriber.last_error ? h("p", { class: "sm" }, `Last error (${subscriber.webhook_failures} failures): ${subscriber.last_error}`) : null));
  if (subscriber.status === "disabled") {
    form.append(h("div", { class: "actions" }, button(`Enable ${subscriber.label || subscriber.id}`, {
      class: "primary", onclick: () => submit(form, async () => {
        await api("POST", `/channels/${subscriber.channel}/${subscriber.id}/enable`);
        await refresh();
        announce(`${subscriber.label} enabled.`);
      }) })));
  }
  return h("li", {}, form);
}

function addForm(components, api, refresh) {
  const kind = select("kind", KINDS, "slack");
  const url = input("url", { type: "url", maxlength: 2000, spellcheck: "false" });
  const chat = input("chat_id", { maxlength: 64 });
  const token = input("bot_token", { type: "password", maxlength: 200 });
  const urlField = field("Incoming webhook URL", url, "It is a secret: it is never shown again, only its host.");
  const telegram = h("div", { hidden: true }, field("Chat id or @channel", chat),
    field("Bot token", token, "A secret: it is never shown again."));
  const created = h("div", { class: "secret", hidden: true, role: "status" });
  const form = h("form", { class: "card", novalidate: true },
    field("Kind", kind), field("Label", input("label", { required: true, maxlength: 80 }), "e.g. #support-alerts"),
    urlField, telegram,
    componentChecks(components, [], "Components it hears about (none ticked: every one)"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Add")));
  const fit = () => { urlField.hidden = kind.value === "telegram"; telegram.hidden = kind.value !== "telegram"; };
  kind.addEventListener("change", fit);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, async () => {
      const values = new FormData(form);
      const body = { label: values.get("label"), components: values.getAll("components") };
      if (kind.value === "telegram") Object.assign(body, { chat_id: chat.value, bot_token: token.value });
      else body.url = url.value;
      const made = await api("POST", `/channels/${kind.value}`, { body });
      created.replaceChildren(...[h("p", {}, h("strong", {}, `${CHANNELS[made.channel] || made.channel} “${made.label}” added. `),
        made.secret ? "Copy its signing secret now: it is shown this once and never again." : "It hears about the next notification."),
        made.secret ? h("p", {}, h("code", { class: "wrap", "data-secret": "" }, made.secret)) : null].filter(Boolean));
      created.hidden = false;
      form.reset();
      fit();
      await refresh();
      announce(`${made.label} added.`);
    });
  });
  return h("div", {}, created, form);
}

async function auditLog(api) {
  const list = h("ol", { class: "keys audit" });
  const more = button("Show older entries", { class: "secondary" });
  const form = h("form", { novalidate: true }, list, h("div", { class: "actions" }, more));
  let cursor = null;
  const load = async () => {
    const page = await api("GET", "/audit", { query: { limit: 25, cursor } });
    const items = page.data.map((e) => h("li", { class: "key" },
      h("p", { class: "sm" }, h("strong", {}, e.action), ` · ${e.actor} · `, when(e.at)),
      h("p", { class: "sm" }, h("code", { class: "wrap" }, e.target), ` ${e.summary}`)));
    list.append(...items);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    return items;
  };
  more.addEventListener("click", () => submit(form, async () => {
    const [first] = await load();
    if (first) { first.setAttribute("tabindex", "-1"); first.focus(); }
  }));
  await load();
  if (!list.children.length) list.append(h("li", {}, "Nothing recorded yet."));
  return form;
}
