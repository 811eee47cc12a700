// API keys (admin keys only): the list, a new key (its secret shown once, with a one-time sign-in link),
// revoking one with a second, confirming tap.
import { announce, button, confirmStep, field, h, heading, input, select, submit, when } from "./ui.js";

export async function render(screen, { api, me }) {
  const list = await api("GET", "/keys");
  const created = h("div", { class: "secret", hidden: true, role: "status" });
  const name = input("name", { required: true, maxlength: 80 });
  const form = h("form", { class: "card", novalidate: true },
    field("Name", name, "Who or what uses it, e.g. ana-phone"),
    field("Scope", select("scope", [["marketer", "Marketer: incidents, playbooks, statuses"],
      ["admin", "Admin: also keys and the audit log"]], "marketer")),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create the key")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, async () => {
      const key = await api("POST", "/keys", { body: { name: name.value, scope: form.elements.scope.value } });
      const link = `${window.location.origin}${window.location.pathname}#key=${encodeURIComponent(key.secret)}`;
      created.replaceChildren(
        h("p", {}, h("strong", {}, `Key “${key.name}” (${key.scope}) created. `),
          "Copy it now: it is shown this once and never again."),
        h("p", {}, h("code", { class: "wrap", "data-secret": "" }, key.secret)),
        h("p", { class: "sm" }, "Or send this one-time sign-in link (the console removes the key from the address):"),
        h("p", {}, h("code", { class: "wrap" }, link)),
        button("Copy the key", { class: "secondary", onclick: () => navigator.clipboard?.writeText(key.secret) }));
      created.hidden = false;
      form.reset();
      rows.replaceChildren(...(await api("GET", "/keys")).data.map((k) => row(k, me, api)));
      announce(`Key ${key.name} created; copy it now.`);
    });
  });
  const rows = h("ul", { class: "keys" }, list.data.map((k) => row(k, me, api)));
  screen.replaceChildren(heading("API keys"),
    h("section", { "aria-labelledby": "keys-new" }, h("h2", { id: "keys-new" }, "New key"), created, form),
    h("section", { "aria-labelledby": "keys-all" }, h("h2", { id: "keys-all" }, "Keys"), rows));
}

function row(key, me, api) {
  const form = h("form", { class: "row key", novalidate: true, "data-key": key.name },
    h("div", {}, h("strong", {}, key.name), ` · ${key.scope}`,
      h("p", { class: "mu sm" }, `created by ${key.created_by} `, when(key.created_at),
        key.revoked_at ? [" · revoked ", when(key.revoked_at)] : null)));
  if (!key.revoked_at && key.id !== me.id) {
    form.append(confirmStep(`Revoke ${key.name}`, `Yes, revoke ${key.name}`, () => submit(form, async () => {
      const revoked = await api("DELETE", `/keys/${key.id}`);
      form.replaceWith(row(revoked, me, api));
      announce(`Key ${key.name} revoked.`);
    })));
  } else if (key.id === me.id) {
    form.append(h("p", { class: "mu sm" }, "This is your key."));
  }
  return h("li", {}, form);
}
