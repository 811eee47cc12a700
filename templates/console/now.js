// Now: every component with its status and where it comes from, the open incidents, the page's last publish.
import { button, h, heading, statusBadge, when, words } from "./ui.js";

const SOURCES = {
  probe: "from its probes",
  manual: "set by hand",
  incident: "from an open incident",
  maintenance: "from maintenance",
};

export async function render(screen, { api }) {
  const [components, open, page, latest] = await Promise.all([
    api("GET", "/components"),
    api("GET", "/incidents", { query: { status: "open", limit: 100 } }),
    api("GET", "/page"),
    // 404 until the first probe cycle has run.
    api("GET", "/probes/latest").catch((error) => { if (error.status === 404) return null; throw error; }),
  ]);
  const unconfirmed = latest ? latest.unconfirmed || [] : [];
  const refresh = button("Refresh", { class: "secondary" });
  refresh.addEventListener("click", async () => {
    refresh.disabled = true;
    // Offline, what is shown stays and the banner says why.
    try { await render(screen, { api }); } catch { refresh.disabled = false; }
  });
  screen.replaceChildren(...[
    heading("Now"),
    h("p", { class: "meta" }, "Page published ", when(page.published_at), " · ",
      h("a", { href: page.url }, "Open the status page"), " ", refresh),
    h("section", { "aria-labelledby": "now-incidents" },
      h("h2", { id: "now-incidents" }, `Open incidents (${open.data.length})`),
      open.data.length
        ? h("ul", { class: "cards" }, open.data.map((incident) => h("li", { class: `card imp-${incident.impact}` },
          h("h3", {}, h("a", { href: `#incidents/${incident.id}` }, incident.name)),
          h("p", { class: "mu" }, `${words(incident.status)} · ${words(incident.impact)} impact · started `,
            when(incident.started_at)))))
        : h("p", {}, "None. Every component shows what its probes, maintenance or a manual status say.")),
    unconfirmed.length
      ? h("section", { "aria-labelledby": "now-unconfirmed" },
        h("h2", { id: "now-unconfirmed" }, `Unconfirmed probe failures (${unconfirmed.length})`),
        h("p", { class: "mu sm" }, "Seen from fewer probe locations than must agree: nobody is told, the page "
          + "shows what the locations agree on."),
        h("ul", { class: "cards" }, unconfirmed.map((u) => h("li", { class: "card" },
          h("h3", {}, u.probe),
          h("p", { class: "mu" }, `${words(u.seen)} from ${u.failing_from.join(", ")}; `
            + `fine from ${u.fine_from.join(", ") || "no other location"}`)))))
      : null,
    h("section", { "aria-labelledby": "now-components" },
      h("h2", { id: "now-components" }, "Components"),
      h("ul", { class: "components-now" }, components.data.map((c) => h("li", {},
        h("div", { class: "row" }, h("strong", {}, c.name), statusBadge(c.status)),
        h("p", { class: "mu sm" }, SOURCES[c.source] || c.source,
          c.source === "manual" && c.manual_until ? [" until ", when(c.manual_until)] : null),
        c.cause ? h("p", { class: "cause" }, c.cause) : null)))),
  ].filter(Boolean));
}
