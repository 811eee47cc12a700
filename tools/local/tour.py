"""The guided tour (``make demo``): the example site's story, played on a running ``make run`` stack
and narrated in the terminal for a marketer.

1. two customers subscribe, one by email and one by phone, through the API's public sign-up (as a
   script does: JSON, no Origin), and confirm the way a person would: the email's link, the SMS code,
   both read from the outbox;
2. Facebook goes down on the demo upstream and the marketer triggers the prepared ``facebook-outage``
   playbook (the probes would open it too, but only after two failed one-minute cycles): the page's
   banner, the emails, SMS and chat messages sent, the post scheduler pausing the Facebook posts;
3. Facebook is back: the outage ends, the playbook is resolved with its "we are back" texts, the
   posts are queued again;
4. two variants the probes find on their own, run at once through ``POST /probes/run``: only the
   brand's Instagram profile fails (Instagram itself works), then HubSpot's status API reports an
   outage; both end and the probes see them recover.

Every wait is bounded; what did not happen in time is said and the tour exits 1. Each run signs up
new addresses, so it can run again on the same stack. Ports come from the variables ``make run``
reads (API_PORT, PAGE_PORT, DEMO_PORT, CHAT_PORT, AWS_PORT); ``--fast`` or ``TOUR_PAUSE=0`` skips
the pauses between steps.
"""
from __future__ import annotations

import argparse
import html
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from tools.local.outbox import Outbox, read_outbox
from tools.local.stack import DEFAULT_ADMIN_KEY

DELIVERY_WAIT = 30.0  # seconds: the queue poller hands each notification to the senders within a few
PROBE_RUNS = 4  # a probe counts after two results in a row (failure_threshold, success_threshold)


@dataclass(frozen=True)
class StackUrls:
    api: str
    page: str
    demo: str
    chat: str
    emulator: str
    admin_key: str

    @classmethod
    def from_environ(cls, env=os.environ) -> "StackUrls":
        def local(variable: str, default: int) -> str:
            return f"http://127.0.0.1:{env.get(variable) or default}"

        return cls(api=local("API_PORT", 8000), page=local("PAGE_PORT", 8080), demo=local("DEMO_PORT", 8090),
                   chat=local("CHAT_PORT", 8070),
                   emulator=env.get("AWS_ENDPOINT_URL") or local("AWS_PORT", 5000),
                   admin_key=env.get("BEACON_ADMIN_KEY", DEFAULT_ADMIN_KEY))


class StackNotRunning(Exception):
    pass


@dataclass
class Outcome:
    """What the tour saw; the tour exits 0 only when ``problems`` stays empty."""

    confirmed: list[str] = field(default_factory=list)  # "email ana@…", "sms +49…"
    incident_opened: str | None = None
    incident_resolved: str | None = None
    paused: list[str] = field(default_factory=list)
    resumed: bool = False
    banners: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class Tour:
    def __init__(self, urls: StackUrls, out=sys.stdout, pause: float = 2.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.urls, self.out, self.pause_seconds, self.sleep, self.clock = urls, out, pause, sleep, clock
        self.http = requests.Session()
        self.outcome = Outcome()
        stamp = int(time.time() * 1000) % 10**8
        # One customer pair per run; a number ending in 99 is one the emulator treats as opted out.
        self.email = f"ana.tour{stamp}@example.com"
        self.phone = f"+49151{stamp if stamp % 100 != 99 else stamp - 1:08d}"

    # -- narration -----------------------------------------------------------------------------
    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def step(self, number: int, title: str) -> None:
        self.pause()
        self.say()
        self.say(f"━━ {number}/4  {title} " + "━" * max(0, 60 - len(title)))

    def look(self, what: str, url: str) -> None:
        self.say(f"   ▸ {what}: {url}")

    def pause(self) -> None:
        if self.pause_seconds > 0:
            self.sleep(self.pause_seconds)

    def problem(self, text: str) -> None:
        self.outcome.problems.append(text)
        self.say(f"   ✗ {text}")

    # -- the stack -----------------------------------------------------------------------------
    def check_stack(self) -> None:
        for name, url in (("API", self.urls.api + "/health"), ("demo upstream", self.urls.demo + "/_demo"),
                          ("status page", self.urls.page + "/")):
            try:
                self.http.get(url, timeout=3).raise_for_status()
            except requests.RequestException as exc:
                raise StackNotRunning(f"the {name} at {url} does not answer ({exc.__class__.__name__})") from None

    def api(self, method: str, path: str, body: dict | None = None, admin: bool = True) -> requests.Response:
        headers = {"Accept": "application/json"}
        if admin:
            headers["Authorization"] = f"Bearer {self.urls.admin_key}"
        return self.http.request(method, self.urls.api + path, json=body, headers=headers, timeout=30)

    def wait_for(self, check: Callable[[], object], seconds: float = DELIVERY_WAIT):
        """``check()``'s first truthy answer within ``seconds``, else its last (falsy) one."""
        deadline = self.clock() + seconds
        while True:
            found = check()
            if found or self.clock() >= deadline:
                return found
            self.sleep(0.3)

    def outbox(self) -> Outbox:
        return read_outbox(self.urls.emulator, self.urls.chat)

    def banner(self) -> str:
        page = self.http.get(self.urls.page + "/", timeout=5).text
        found = re.search(r'<p class="banner[^"]*" id="overall"[^>]*>(.*?)</p>', page, re.S)
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split()) if found else "(no banner)"

    def new_banner(self, before: str, label: str) -> str:
        banner = self.wait_for(lambda: (lambda now: now if now != before else "")(self.banner()), 10) or before
        self.outcome.banners[label] = banner
        self.say(f'   The page\'s banner now reads: "{banner}"')
        return banner

    def scheduler(self) -> dict:
        return self.http.get(self.urls.demo + "/_demo/scheduler", timeout=5).json()

    def demo_outage(self, method: str, name: str, scope: str | None = None) -> None:
        url = f"{self.urls.demo}/_demo/outage/{name}" + (f"?scope={scope}" if scope else "")
        self.http.request(method, url, timeout=5).raise_for_status()

    def component(self, component_id: str) -> dict:
        return self.api("GET", f"/components/{component_id}").json()

    # -- what was sent -------------------------------------------------------------------------
    def sent_since(self, before: Outbox) -> Outbox:
        now = self.outbox()
        seen_mail, seen_sms = {m.id for m in before.emails}, {m.id for m in before.sms}
        last_chat = max((m.id for m in before.chat), default=0)
        return Outbox(emails=[m for m in now.emails if m.id not in seen_mail],
                      sms=[m for m in now.sms if m.id not in seen_sms],
                      chat=[m for m in now.chat if m.id > last_chat], chat_problem=now.chat_problem)

    def ours(self, sent: Outbox, email_subject: str, sms_text: str) -> tuple[list, list]:
        mails = [m for m in sent.emails if self.email in m.to and email_subject in m.subject]
        texts = [m for m in sent.sms if m.phone_number == self.phone and sms_text in m.message]
        return mails, texts

    def report_sent(self, sent: Outbox, mails: list, texts: list) -> None:
        platforms = sorted({m.platform for m in sent.chat})
        self.say(f"   Sent: {len(sent.emails)} email(s), {len(sent.sms)} SMS, {len(sent.chat)} chat/webhook "
                 f"message(s)" + (f" ({', '.join(platforms)})" if platforms else ""))
        if mails:
            self.say(f'   Email to {self.email}: "{mails[-1].subject}"')
        if texts:
            self.say(f'   SMS to {self.phone}: "{texts[-1].message}"')
        self.look("read them all", self.urls.page + "/_outbox")

    def wait_for_messages(self, before: Outbox, email_subject: str, sms_text: str, what: str) -> Outbox:
        def delivered():
            sent = self.sent_since(before)
            mails, texts = self.ours(sent, email_subject, sms_text)
            return (sent, mails, texts) if mails and texts else None

        found = self.wait_for(delivered)
        if found is None:
            sent = self.sent_since(before)
            self.report_sent(sent, *self.ours(sent, email_subject, sms_text))
            self.problem(f"the {what} email and SMS to our two customers did not arrive within {DELIVERY_WAIT:.0f} s")
            return sent
        self.report_sent(*found)
        return found[0]

    # -- the steps -----------------------------------------------------------------------------
    def play(self) -> Outcome:
        self.say("Beacon's guided tour: a Facebook outage as Lumen Coffee's customers and marketers live it.")
        self.look("keep the status page open", self.urls.page + "/")
        self.clean_up_last_run()
        self.sign_up()
        self.facebook_down()
        self.facebook_back()
        self.variants()
        self.summary()
        return self.outcome

    def clean_up_last_run(self) -> None:
        # A tour stopped half-way leaves outages on; this one starts from a quiet upstream.
        for name in ("facebook", "instagram", "hubspot"):
            self.demo_outage("DELETE", name)

    def sign_up(self) -> None:
        self.step(1, "Two customers subscribe")
        self.say("   Ana subscribes by email and Ben by SMS, from the page's sign-up form (here sent as a script")
        self.say("   would send it). Nothing reaches them until they confirm: a link by email, a code by SMS.")
        answer = self.api("POST", "/subscribers", {"email": self.email}, admin=False)
        if answer.status_code != 202:
            return self.problem(f"the email sign-up was refused ({answer.status_code}): {answer.text[:200]}")
        self.say(f"   {self.email}: {answer.json()['message']}")
        link = self.wait_for(lambda: self.confirmation_link(), 10)
        if not link:
            self.problem(f"no confirmation email to {self.email} in the outbox")
        else:
            self.say(f"   The confirmation email (in the outbox) links to {link.split('?')[0]}?token=…")
            done = self.http.post(link, headers={"Accept": "application/json"}, timeout=10)
            self.confirmed("email", self.email, done)

        answer = self.api("POST", "/subscribers", {"phone": self.phone}, admin=False)
        if answer.status_code != 202:
            return self.problem(f"the SMS sign-up was refused ({answer.status_code}): {answer.text[:200]}")
        verify_url = answer.json()["verify_url"]
        self.say(f"   {self.phone}: {answer.json()['message']}")
        code = self.wait_for(lambda: self.sms_code(), 10)
        if not code:
            self.problem(f"no confirmation SMS to {self.phone} in the outbox")
        else:
            self.say(f"   The SMS (in the outbox) carries the code {code}; Ben types it in.")
            done = self.http.post(verify_url, json={"code": code}, headers={"Accept": "application/json"}, timeout=10)
            self.confirmed("sms", self.phone, done)
        self.look("what they were sent", self.urls.page + "/_outbox")

    def confirmation_link(self) -> str | None:
        for mail in reversed(self.outbox().emails):
            if self.email in mail.to:
                found = re.search(r"https?://\S+/subscribers/confirm/[^\s\"'<>]+", mail.text or mail.html)
                if found:
                    return html.unescape(found.group(0))
        return None

    def sms_code(self) -> str | None:
        for sms in reversed(self.outbox().sms):
            if sms.phone_number == self.phone and (found := re.search(r"code: (\d{6})", sms.message)):
                return found.group(1)
        return None

    def confirmed(self, channel: str, destination: str, answer: requests.Response) -> None:
        if answer.status_code == 200 and answer.json().get("status") == "confirmed":
            self.outcome.confirmed.append(f"{channel} {destination}")
            self.say(f"   ✓ {destination} is confirmed: {answer.json()['message']}")
        else:
            self.problem(f"{destination} was not confirmed ({answer.status_code}): {answer.text[:200]}")

    def facebook_down(self) -> None:
        self.step(2, "Facebook goes down")
        self.say("   Facebook itself fails, for everyone (a platform outage). The probes check facebook.com every")
        self.say("   minute and would act after two failed checks; Lumen's marketer knows already and triggers the")
        self.say("   prepared playbook 'facebook-outage': its texts were written and approved before the bad day.")
        before_banner, before = self.banner(), self.outbox()
        self.demo_outage("POST", "facebook")
        answer = self.api("POST", "/playbooks/facebook-outage/trigger", {"variables": {}})
        if answer.status_code != 200:
            return self.problem(f"the playbook was refused ({answer.status_code}): {answer.text[:200]}")
        incident = answer.json()
        self.outcome.incident_opened = incident["id"]
        self.say(f'   Incident opened: "{incident["name"]}" ({incident["impact"]} impact)')
        self.new_banner(before_banner, "facebook down")
        self.look("the page, with how to reach Lumen instead", self.urls.page + "/")
        self.wait_for_messages(before, "Facebook is down", "Facebook", "outage")
        self.say("   Lumen's post scheduler got Beacon's signed webhook and holds the Facebook posts, so nothing")
        self.say("   is published into a platform nobody can reach:")
        queue = self.wait_for(lambda: (lambda q: q if "facebook" in q["paused_platforms"] else None)(self.scheduler()))
        if queue is None:
            return self.problem(f"the post scheduler did not pause Facebook within {DELIVERY_WAIT:.0f} s")
        self.outcome.paused = queue["paused_platforms"]
        self.say(f"   Paused platforms: {', '.join(queue['paused_platforms'])}")
        for post in queue["posts"]:
            if post["state"] == "paused":
                self.say(f'     paused  {post["scheduled_for"]}  "{post["text"]}"')
        self.look("the scheduler's queue", self.urls.demo + "/_demo/scheduler")

    def facebook_back(self) -> None:
        self.step(3, "Facebook is back")
        self.say("   Facebook works again. The marketer resolves the playbook: its prepared \"we are back\" texts")
        self.say("   go to the same customers, and the page turns green.")
        before_banner, before = self.banner(), self.outbox()
        self.demo_outage("DELETE", "facebook")
        answer = self.api("POST", "/playbooks/facebook-outage/resolve", {})
        if answer.status_code != 200 or not answer.json().get("resolved"):
            return self.problem(f"the playbook was not resolved ({answer.status_code}): {answer.text[:200]}")
        self.outcome.incident_resolved = answer.json()["incident"]["id"]
        self.say(f"   Incident resolved: \"{answer.json()['incident']['name']}\"")
        self.new_banner(before_banner, "facebook back")
        self.wait_for_messages(before, "are back", "work again", "\"back\"")
        queue = self.wait_for(lambda: (lambda q: q if not q["paused_platforms"] else None)(self.scheduler()))
        if queue is None:
            return self.problem(f"the post scheduler did not resume Facebook within {DELIVERY_WAIT:.0f} s")
        self.outcome.resumed = True
        self.say(f"   The post scheduler queued the Facebook posts again ({len(queue['posts'])} posts queued, "
                 "none paused).")
        self.look("the scheduler's queue", self.urls.demo + "/_demo/scheduler")

    def variants(self) -> None:
        self.step(4, "Two other kinds of trouble")
        self.say("   a) Only Lumen's own Instagram profile fails; Instagram itself works for everyone else.")
        self.say("      That is not Meta's outage but Lumen's (a blocked or changed profile, a login problem):")
        self.say("      the page says so instead of blaming the platform, and tells customers where to write.")
        self.say("      The probes find this on their own; the tour runs them now (POST /probes/run) rather than")
        self.say("      waiting for the every-minute cycle, after the second probe location has looked too: both")
        self.say("      must see a failure before anyone is told.")
        before = self.outbox()
        self.demo_outage("POST", "instagram", scope="brand")
        self.probe_until("instagram", failing=True)
        self.say("   b) HubSpot, a tool behind the channels (newsletters, order emails, the ticket inbox), reports")
        self.say("      an outage on its own status API. Beacon reads that API and shows it as HubSpot's problem.")
        self.demo_outage("POST", "hubspot")
        self.probe_until("hubspot", failing=True)
        self.look("the page", self.urls.page + "/")
        self.say("   Both end; after two good checks in a row the probes resolve them and say so.")
        self.demo_outage("DELETE", "instagram")
        self.demo_outage("DELETE", "hubspot")
        self.probe_until("instagram", failing=False, also="hubspot")
        # Each opened and each resolved incident: an email and an SMS to each of our two customers.
        sent = self.wait_for(lambda: (lambda s: s if len(self.ours(s, "", "")[1]) >= 4 else None)(
            self.sent_since(before)), 15)
        self.say("   For both variants, opened and resolved:")
        self.report_sent(sent or self.sent_since(before), [], [])

    def demo_locations(self) -> list[str]:
        return self.http.get(f"{self.urls.demo}/_demo", timeout=10).json().get("locations", [])

    def probe_until(self, component_id: str, failing: bool, also: str | None = None) -> None:
        wanted = [component_id] + ([also] if also else [])
        before_banner = self.banner()
        for run in range(1, PROBE_RUNS + 1):
            # The other probe locations look first, as their schedules would in the same minute, so
            # home's cycle confirms the failure against what they see now.
            for location in self.demo_locations():
                self.http.post(f"{self.urls.demo}/_demo/locations/{location}/run", timeout=30)
            answer = self.api("POST", "/probes/run")
            if answer.status_code == 409:  # the every-minute cycle is running: its results count as well
                self.sleep(1)
            states = {c: self.component(c) for c in wanted}
            if all((s["status"] != "operational") == failing for s in states.values()):
                break
        else:
            return self.problem(f"{' and '.join(wanted)} still {'up' if failing else 'down'} after {PROBE_RUNS} "
                                "probe runs")
        self.say(f"      Probes run {run} time(s).")
        for state in states.values():
            cause = f" · cause: {state['cause']}" if state.get("cause") and failing else ""
            self.say(f"      {state['id']}: {state['status']}{cause}")
        self.new_banner(before_banner, f"{component_id} {'down' if failing else 'back'}")

    def summary(self) -> None:
        self.say()
        outcome = self.outcome
        if outcome.problems:
            self.say(f"The tour ended with {len(outcome.problems)} problem(s):")
            for problem in outcome.problems:
                self.say(f"  - {problem}")
            return
        self.say("That was the whole loop: sign-up, outage, messages, paused posts, recovery. Try it yourself:")
        self.say(f"  curl -X POST {self.urls.demo}/_demo/outage/facebook        # start an outage (DELETE ends it)")
        self.say(f"  beacon playbook trigger facebook-outage --api {self.urls.api} --key {self.urls.admin_key}")
        self.look("status page", self.urls.page + "/")
        self.look("outbox", self.urls.page + "/_outbox")
        self.look("chat messages", self.urls.chat + "/_messages")


def main(argv: list[str] | None = None, env=None, out=sys.stdout) -> int:
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(prog="make demo", description="A narrated outage on the running local stack.")
    parser.add_argument("--fast", action="store_true", help="no pauses between steps (TOUR_PAUSE=0 does the same)")
    args = parser.parse_args(argv)
    pause = 0.0 if args.fast else float(env.get("TOUR_PAUSE", 2))
    tour = Tour(StackUrls.from_environ(env), out=out, pause=pause)
    try:
        tour.check_stack()
    except StackNotRunning as exc:
        print(f"beacon: {exc}.\nThe tour plays on the local stack: start it in another terminal with\n\n"
              "    make run\n\nwait for \"Beacon is running locally\", then run `make demo` again (with the same "
              "API_PORT, PAGE_PORT, DEMO_PORT, CHAT_PORT and AWS_PORT if you set any).", file=sys.stderr)
        return 2
    outcome = tour.play()
    return 1 if outcome.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
