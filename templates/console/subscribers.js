// Subscribers: how many per channel and status, finding one by their address as listings show it (chat
// URLs masked), the list as CSV and a CSV imported in chunks with the API's problem per line (admin keys);
// each notification's delivery per channel, refreshed every few seconds while it is still going out.
import { ApiError } from "./api.js";
import { announce, checkbox, field, h, heading, input, section, submit, when, words } from "./ui.js";

export const CHANNELS = { email: "Email", sms: "SMS", webhook: "Webhook", slack: "Slack", teams: "Teams",
  discord: "Discord", telegram: "Telegram" };
const STATES = ["confirmed", "pending", "unsubscribed", "suppressed", "disabled"];
const CHUNK = 250; // rows per import request (the API takes up to 1,000)
const PAGE = 1000; // subscribers looked at per search request
const REFRESH_MS = 3000;
const FORMULA = ["=", "+", "-", "@", "\t", "\r"];

export async function render(screen, context) {
  return context.id ? delivery(screen, context) : overview(screen, context);
}

async function overview(screen, { api, me }) {
  const admin = me.scope === "admin";
  const [first, notes] = await Promise.all([
    admin ? api("GET", "/subscribers/search", { query: { limit: 1 } }) : null,
    api("GET", "/notifications", { query: { limit: 20 } })]);
  const counts = h("div");
  const drawCounts = (c) => counts.replaceChildren(countsTable(c));
  if (admin) drawCounts(first.counts);
  const recount = async () => drawCounts((await api("GET", "/subscribers/search", { query: { limit: 1 } })).counts);
  screen.replaceChildren(
    heading("Subscribers"),
    ...(admin ? [
      section("sub-counts", "Subscribers per channel", counts),
      section("sub-find", "Find a subscriber", finder(api)),
      section("sub-transfer", "Export and import", exporter(api), importer(api, recount)),
    ] : [h("p", { class: "note" }, "Counts, search, export and import need an admin key.")]),
    section("sub-notes", "Notifications and their delivery", notes.data.length
      ? h("ul", { class: "cards" }, notes.data.map((n) => h("li", { class: "card" },
        h("h3", {}, h("a", { href: `#subscribers/${n.id}` }, n.title)),
        h("p", { class: "mu sm" }, `${words(n.kind)} · `, when(n.created_at)))))
      : h("p", {}, "No notification has gone out yet.")));
}

function countsTable(counts) {
  const shown = Object.keys(CHANNELS).filter((c) => ["email", "sms"].includes(c)
    || STATES.some((s) => (counts[c] || {})[s]));
  const cell = (c, s) => (counts[c] || {})[s] || 0;
  return h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Subscribers per channel and status" },
    h("table", { class: "counts" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Channel"),
        STATES.map((s) => h("th", { scope: "col" }, words(s))), h("th", { scope: "col" }, "All"))),
      h("tbody", {}, shown.map((c) => h("tr", { "data-channel": c }, h("th", { scope: "row" }, CHANNELS[c]),
        STATES.map((s) => h("td", { "data-status": s }, String(cell(c, s)))),
        h("td", {}, String(STATES.reduce((sum, s) => sum + cell(c, s), 0))))))));
}

function finder(api) {
  const q = input("q", { type: "search", required: true, maxlength: 200 });
  const found = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", novalidate: true, role: "search" },
    field("Address or number", q, "As listings show it, or part of it: ana@example, +49151, hooks.slack.com"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Find")), found);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, async () => {
      const needle = q.value.trim().toLowerCase();
      if (!needle) throw new ApiError(422, { fields: [{ field: "q", problem: "type part of an address or number" }] });
      const hits = [];
      let cursor = null;
      let searched = 0;
      do {
        const page = await api("GET", "/subscribers/search", { query: { q: needle, limit: PAGE, cursor } });
        searched += page.looked_at;
        hits.push(...page.data);
        cursor = page.next_cursor;
      } while (cursor && hits.length < 50);
      const said = `${hits.length} found among ${searched} subscribers${cursor ? "; there may be more: type more of the address" : ""}.`;
      found.replaceChildren(h("p", {}, said), hits.length === 0 ? "" : h("ul", { class: "keys" }, hits.slice(0, 50).map((s) =>
        h("li", { class: "key" }, h("code", { class: "wrap" }, s.destination), ` · ${CHANNELS[s.channel] || s.channel} · `,
          h("strong", {}, words(s.status)),
          h("p", { class: "mu sm" }, s.components.length ? `Hears about ${s.components.join(", ")}` : "Hears about everything",
            " · since ", when(s.created_at))))));
      announce(said);
    });
  });
  return form;
}

function exporter(api) {
  const form = h("form", { class: "card", novalidate: true },
    h("p", {}, "Every email and SMS subscriber as CSV (webhooks and chat channels are left out: their addresses "
      + "are secrets). The export is recorded in the audit log."),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Download subscribers.csv")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, async () => {
      const text = await api("GET", "/subscribers/export", { text: true });
      const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
      const link = h("a", { href: url, download: "subscribers.csv", hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      announce("subscribers.csv downloaded.");
    });
  });
  return form;
}

// RFC 4180 cells (quotes, doubled quotes); a line of the file is a row (a line break inside quotes is not).
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') cell += c;
      else if (text[i + 1] === '"') { cell += '"'; i += 1; } else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(cell); cell = ""; } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      row.push(cell); rows.push(row); row = []; cell = "";
    } else cell += c;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

// An export's cell as typed: its spreadsheet guard (a quote before =, +, -, @) removed.
function unguarded(cell) {
  const value = cell.trim();
  return value.startsWith("'") && FORMULA.includes(value[1]) ? value.slice(1) : value;
}

// The import rows of a CSV (columns email, phone, components; or an export's), each with its line, and the
// lines refused before sending.
export function importRows(text) {
  const [header, ...lines] = parseCsv(text.replace(/^\ufeff/, ""));
  const columns = (header || []).map((c) => c.trim().toLowerCase());
  const exported = columns.includes("channel") && columns.includes("destination");
  if (!exported && !columns.some((c) => c === "email" || c === "phone")) {
    throw new ApiError(422, { fields: [{ field: "file", problem: "the first line must name the columns email "
      + `and/or phone (and optionally components), or be an export's; found ${columns.join(", ") || "nothing"}` }] });
  }
  const rows = [];
  const problems = [];
  lines.forEach((cells, at) => {
    const line = at + 2;
    if (cells.every((c) => !c.trim())) return;
    if (cells.length > columns.length) { problems.push({ line, problem: "more values than columns; quote values that contain commas" }); return; }
    const row = Object.fromEntries(columns.map((name, i) => [name, unguarded(cells[i] || "")]));
    if (exported) {
      if ((row.status || "confirmed") !== "confirmed") { problems.push({ line, problem: `status ${row.status}: only confirmed subscribers are imported` }); return; }
      row[row.channel === "sms" ? "phone" : "email"] = row.destination;
    }
    rows.push({ line, email: row.email || null, phone: row.phone || null,
                components: (row.components || "").replace(/,/g, " ").split(/\s+/).filter(Boolean) });
  });
  return { rows, problems };
}

// Runs of consecutive lines, at most CHUNK rows each, so the API numbers every problem by its line.
function chunks(rows) {
  const out = [];
  for (const row of rows) {
    const last = out[out.length - 1];
    if (last && last.length < CHUNK && last[last.length - 1].line === row.line - 1) last.push(row);
    else out.push([row]);
  }
  return out;
}

function importer(api, recount) {
  const file = h("input", { type: "file", name: "file", accept: ".csv,text/csv", required: true });
  const consent = checkbox("consent", "These people agreed elsewhere to hear from us (no confirmation is sent)");
  const progress = h("progress", { max: "1", value: "0", "aria-labelledby": "imp-progress-label" });
  const meter = h("div", { class: "progress", hidden: true },
    h("p", { id: "imp-progress-label", class: "sm" }, "Import progress"), progress);
  const result = h("div", { role: "status" });
  const form = h("form", { class: "card", novalidate: true },
    field("CSV file", file, "Columns email, phone and components (separated by spaces), or an export."),
    consent, meter,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Import")), result);
  // What a failed chunk leaves to send: "Send again" goes on from there rather than from the start.
  let job = null;
  file.addEventListener("change", () => { job = null; });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, async () => {
      if (!file.files.length) throw new ApiError(422, { fields: [{ field: "file", problem: "choose a CSV file" }] });
      if (!form.elements.consent.checked) {
        throw new ApiError(422, { fields: [{ field: "consent", problem: "import only people who agreed to hear from you" }] });
      }
      if (!job) {
        const { rows, problems } = importRows(await file.files[0].text());
        job = { parts: chunks(rows), next: 0, total: rows.length, done: 0, imported: 0, existing: 0, problems };
      }
      meter.hidden = false;
      progress.max = Math.max(1, job.total);
      while (job.next < job.parts.length) {
        const part = job.parts[job.next];
        const answer = await api("POST", "/subscribers/import", { body: {
          rows: part.map(({ email, phone, components }) => ({ email, phone, components })), first_line: part[0].line } });
        job.imported += answer.imported;
        job.existing += answer.existing;
        job.problems.push(...answer.problems);
        job.done += part.length;
        job.next += 1;
        progress.value = job.done;
        document.getElementById("imp-progress-label").textContent = `Import progress: ${job.done} of ${job.total} rows`;
      }
      const finished = job;
      job = null;
      const said = `${finished.imported} imported, ${finished.existing} there already, ${finished.problems.length} refused.`;
      result.replaceChildren(h("p", {}, h("strong", {}, said)), finished.problems.length === 0 ? "" : h("ul", { class: "problems" }, finished.problems.sort((a, b) => a.line - b.line)
          .map((p) => h("li", {}, `Line ${p.line}: ${p.problem}`))));
      announce(said);
      await recount();
    });
  });
  return form;
}

function goingOut(stats) {
  const totals = Object.values(stats.channels).reduce((sum, c) => ({
    queued: sum.queued + c.queued, handled: sum.handled + c.sent + c.failed + c.suppressed }), { queued: 0, handled: 0 });
  const young = Date.now() - new Date(stats.created_at).getTime() < 120000;
  return { ...totals, going: totals.queued > totals.handled || (totals.queued === 0 && young) };
}

async function delivery(screen, { api, id }) {
  let stats = await api("GET", `/notifications/${id}`);
  const table = h("div");
  const status = h("p", { role: "status", class: "note" });
  const draw = () => {
    const { queued, handled, going } = goingOut(stats);
    const text = going ? `Going out: ${handled} of ${queued} handled. This refreshes every few seconds.`
      : `Done: ${handled} of ${queued} handled.`;
    if (status.textContent !== text) status.textContent = text;
    const rows = Object.entries(stats.channels).filter(([, c]) => c.queued || c.sent || c.failed || c.suppressed);
    table.replaceChildren(rows.length ? h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Delivery per channel" },
      h("table", { class: "counts" },
        h("thead", {}, h("tr", {}, ["Channel", "Queued", "Sent", "Failed", "Suppressed"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows.map(([channel, c]) => h("tr", { "data-channel": channel }, h("th", { scope: "row" }, CHANNELS[channel] || channel),
          [c.queued, c.sent, c.failed, c.suppressed].map((n) => h("td", {}, String(n)))))))) : h("p", {}, "Nobody was queued for it (yet)."));
  };
  draw();
  screen.replaceChildren(
    h("p", {}, h("a", { href: "#subscribers" }, "← Subscribers")),
    heading(stats.title),
    h("p", { class: "meta" }, `${words(stats.kind)} · `, when(stats.created_at)),
    status, table);
  const tick = async () => {
    if (!table.isConnected || !goingOut(stats).going) return;
    // Offline, the last counts stay and the banner says why; the next tick tries again.
    try { stats = await api("GET", `/notifications/${id}`); draw(); } catch { /* shown by the banner */ }
    setTimeout(tick, REFRESH_MS);
  };
  setTimeout(tick, REFRESH_MS);
}
