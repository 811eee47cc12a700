// The page's time zone (GET /page): maintenance windows and notices are typed and shown in it, whatever
// zone the marketer's phone is in. A typed wall-clock time becomes an instant with the zone's offset at
// that moment, so a window across a daylight-saving change lands where the page will show it.
import { h } from "./ui.js";

const readers = new Map();

function reader(zone) {
  if (!readers.has(zone)) {
    readers.set(zone, new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }));
  }
  return readers.get(zone);
}

// The wall-clock fields of the instant ``ms`` in ``zone``.
function wall(ms, zone) {
  const p = Object.fromEntries(reader(zone).formatToParts(new Date(ms)).map((x) => [x.type, Number(x.value)]));
  return p;
}

function offset(ms, zone) {
  const p = wall(ms, zone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
}

// "2026-05-01T22:00" typed in ``zone`` → "2026-05-01T20:00:00.000Z"; "" → undefined (the API names the field).
export function toInstant(typed, zone) {
  const found = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(typed || "");
  if (!found) return undefined;
  const [, y, mo, d, hh, mi] = found.map(Number);
  const asUtc = Date.UTC(y, mo - 1, d, hh, mi);
  let ms = asUtc - offset(asUtc, zone);
  ms = asUtc - offset(ms, zone);
  return new Date(ms).toISOString();
}

// An instant as the value of a datetime-local control in ``zone`` ("" for none).
export function toTyped(iso, zone) {
  if (!iso) return "";
  const p = wall(new Date(iso).getTime(), zone);
  const two = (n) => String(n).padStart(2, "0");
  return `${p.year}-${two(p.month)}-${two(p.day)}T${two(p.hour)}:${two(p.minute)}`;
}

const shown = new Map();

// An instant as the page shows it: date and time in the page's zone, the zone named.
export function inZone(iso, zone) {
  if (!iso) return h("span", {}, "not set");
  if (!shown.has(zone)) {
    shown.set(zone, new Intl.DateTimeFormat(undefined, {
      timeZone: zone, dateStyle: "medium", timeStyle: "short" }));
  }
  return h("time", { datetime: iso, title: new Date(iso).toISOString() }, `${shown.get(zone).format(new Date(iso))} ${zone}`);
}

// The next full hour from now, ``hours`` ahead, as a typed value in ``zone``.
export function nextHour(zone, hours = 1) {
  const ms = Math.ceil(Date.now() / 3600000) * 3600000 + (hours - 1) * 3600000;
  return toTyped(new Date(ms).toISOString(), zone);
}

// A datetime-local control, its hint naming the zone it is read in.
export function zoneHint(zone, extra = "") {
  return `In the page's time zone, ${zone}.${extra ? ` ${extra}` : ""}`;
}
