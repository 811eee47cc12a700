// Notices: announcements that are not outages (new opening hours, a campaign), shown on the page between
// their start and end, typed in the page's time zone. Post one, edit one (the version read is sent; a stale
// one is read again and re-applied), take one down with a second, confirming tap.
import { announce, bodyField, checkbox, confirmStep, field, h, heading, input, section, submit } from "./ui.js";
import { inZone, toInstant, toTyped, zoneHint } from "./zone.js";

export async function render(screen, { api }) {
  const [list, page] = await Promise.all([api("GET", "/notices", { query: { limit: 100 } }), api("GET", "/page")]);
  const zone = page.time_zone;
  const again = () => render(screen, { api });
  const shown = list.data.filter((n) => n.active);
  const others = list.data.filter((n) => !n.active);
  const items = (notices) => h("ul", { class: "cards" }, notices.map((n) => h("li", {}, card(n, api, zone, again))));
  screen.replaceChildren(
    heading("Notices"),
    h("p", {}, "Announcements that are not outages, shown at the top of the page between their start and end."),
    section("ntc-now", `Shown now (${shown.length})`, shown.length ? items(shown) : h("p", {}, "No notice is shown now.")),
    section("ntc-new", "Post a notice", noticeForm(api, zone, null, async (made) => {
      announce(`Posted: ${made.title}`);
      await again();
    })),
    section("ntc-other", `Scheduled or ended (${others.length})`, others.length ? items(others) : h("p", {}, "None.")),
  );
}

function windowText(notice, zone) {
  return [notice.starts_at ? ["from ", inZone(notice.starts_at, zone)] : "from now",
    notice.ends_at ? [" until ", inZone(notice.ends_at, zone)] : " until taken down"];
}

function card(notice, api, zone, again) {
  const state = { notice };
  const reload = async () => { state.notice = await api("GET", `/notices/${notice.id}`); };
  const edit = h("details", { class: "edit" }, h("summary", {}, `Edit “${notice.title}”`),
    noticeForm(api, zone, state, async (saved) => { announce(`Saved: ${saved.title}`); await again(); }, reload));
  const remove = h("form", { class: "inline-form", novalidate: true });
  remove.append(confirmStep("Take it down", `Yes, take down “${notice.title}”`, () => submit(remove, async () => {
    await api("DELETE", `/notices/${notice.id}`, { version: state.notice.version });
    announce(`Taken down: ${notice.title}`);
    await again();
  }, { reload })));
  return h("article", { class: "card", "data-notice": notice.id, "aria-label": notice.title },
    h("h3", {}, notice.title),
    h("p", { class: "mu sm" }, windowText(notice, zone), ` · version ${notice.version}`),
    notice.body ? h("p", { class: "body" }, notice.body) : null,
    edit, remove);
}

// The form to post a notice (``state`` null) or edit the one in ``state``.
function noticeForm(api, zone, state, done, reload) {
  const n = state ? state.notice : null;
  const starts = input("starts_at", { type: "datetime-local", value: n ? toTyped(n.starts_at, zone) : "" });
  const ends = input("ends_at", { type: "datetime-local", value: n ? toTyped(n.ends_at, zone) : "" });
  const form = h("form", { class: n ? "" : "card", novalidate: true },
    field("Title", input("title", { required: true, maxlength: 200, value: n ? n.title : "" }),
      n ? null : "e.g. We answer on SMS and email today"),
    bodyField("body", "Text (optional)", api, n ? n.body : ""),
    h("div", { class: "pair" }, field("Shown from", starts, zoneHint(zone, "Empty: now.")),
      field("Shown until", ends, zoneHint(zone, "Empty: until taken down."))),
    n ? null : checkbox("notify", "Tell subscribers"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, n ? "Save the notice" : "Post the notice")));
  form.querySelector("textarea").removeAttribute("required");
  const opened = n && { title: n.title, body: n.body, starts_at: toInstant(toTyped(n.starts_at, zone), zone) || null,
                        ends_at: toInstant(toTyped(n.ends_at, zone), zone) || null };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, async () => {
      const values = new FormData(form);
      const typed = { title: values.get("title"), body: values.get("body"),
                      starts_at: toInstant(starts.value, zone) || null, ends_at: toInstant(ends.value, zone) || null };
      // An edit sends what was changed here only: re-applied to a notice someone changed meanwhile, it keeps theirs.
      const changed = n ? Object.fromEntries(Object.entries(typed).filter(([name, value]) => value !== opened[name]))
        : { ...typed, notify: values.get("notify") === "on" };
      const saved = n
        ? await api("PATCH", `/notices/${state.notice.id}`, { version: state.notice.version, body: changed })
        : await api("POST", "/notices", { body: changed });
      await done(saved);
    }, { reload });
  });
  return form;
}
