"""The chat receiver: where webhook, Slack, Teams, Discord and Telegram messages arrive locally.

Deployed, Beacon posts to the platforms and to subscribers' own webhook URLs; locally the
stack seeds one subscriber of each kind pointed here (CHAT_PORT, default 8070), runs its
site with loopback targets allowed and ``telegram_api_url`` on this server, and the outbox
reads back what arrived. Each path answers as its platform answers a message it accepted:

| request | stands for | answer |
| --- | --- | --- |
| ``POST /slack/<anything>`` | a Slack incoming webhook | 200 ``ok`` |
| ``POST /teams/<anything>`` | a Teams incoming webhook or Workflows URL | 202 |
| ``POST /discord/<anything>`` | a Discord webhook | 204 |
| ``POST /bot<token>/sendMessage`` | Telegram's Bot API | 200 ``{"ok": true, "result": <message>}`` |
| ``POST /webhook/<anything>``, or any path with ``X-Beacon-Signature`` | a subscriber's webhook | 200 |
| ``GET /_messages`` | the last 500 messages, oldest first | 200 ``{"messages": [...]}`` |

A body that is not a JSON object gets 400, as the platforms refuse it. Nothing here checks
signatures or tokens: the receiver shows what was sent, the channel tests check its shape.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from collections import deque
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

log = logging.getLogger("beacon.local")

KEPT = 500
SIGNATURE_HEADER = "X-Beacon-Signature"
_TELEGRAM = re.compile(r"^/bot[^/]+/sendMessage$")
_ANSWERS = {"slack": (200, b"ok", "text/plain; charset=utf-8"), "teams": (202, b"", ""), "discord": (204, b"", ""),
            "webhook": (200, b"", "")}
# A bot token the Bot API's format accepts; the receiver takes any token.
LOCAL_BOT_TOKEN = "100000001:local-bot-token-for-the-chat-receiver"
LOCAL_TELEGRAM_CHAT = "-1000000000001"


def seed_destinations(base_url: str) -> dict[str, dict[str, str]]:
    """What an admin would type to add one subscriber of each kind posting to the receiver at ``base_url``."""
    return {
        "webhook": {"url": f"{base_url}/webhook/local"},
        "slack": {"url": f"{base_url}/slack/services/T0LOCAL/B0LOCAL/local"},
        "teams": {"url": f"{base_url}/teams/webhookb2/local"},
        "discord": {"url": f"{base_url}/discord/api/webhooks/1/local"},
        "telegram": {"chat_id": LOCAL_TELEGRAM_CHAT, "bot_token": LOCAL_BOT_TOKEN},
    }


class ChatReceiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, kept: int = KEPT):
        super().__init__(("127.0.0.1", port), _Handler)
        self.lock = threading.Lock()
        self.messages: deque[dict] = deque(maxlen=kept)
        self.received = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def keep(self, platform: str, target: str, headers: dict[str, str], body: dict) -> dict:
        """Keep one message; ``target`` is where it went: the path, or Telegram's chat (its path holds the token)."""
        with self.lock:
            self.received += 1
            message = {"id": self.received, "platform": platform, "target": target,
                       "received_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "headers": headers, "body": body}
            self.messages.append(message)
            return message

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.messages)


class _Handler(BaseHTTPRequestHandler):
    server: ChatReceiver
    protocol_version = "HTTP/1.1"
    server_version = "BeaconChatReceiver"

    def do_GET(self):
        if urlsplit(self.path).path.rstrip("/") == "/_messages":
            return self._send(200, json.dumps({"messages": self.server.snapshot()}).encode(), "application/json")
        return self._send(404, b"GET /_messages lists what arrived; Beacon posts to /slack/, /teams/, /discord/, "
                               b"/webhook/ and /bot<token>/sendMessage\n", "text/plain; charset=utf-8")

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        platform = _platform(path, self.headers)
        if platform is None:
            return self._send(404, b"no such webhook; post to /slack/, /teams/, /discord/, /webhook/ or "
                                   b"/bot<token>/sendMessage\n", "text/plain; charset=utf-8")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._refuse(platform, "the body is not a JSON object")
        if platform == "telegram":
            return self._telegram(body)
        headers = {name: self.headers[name] for name in (SIGNATURE_HEADER, "X-Beacon-Delivery") if name in self.headers}
        self.server.keep(platform, path, headers, body)
        self._send(*_ANSWERS[platform])

    def _telegram(self, body: dict):
        if not body.get("chat_id") or not body.get("text"):
            return self._refuse("telegram", "Bad Request: chat_id and text are required")
        chat_id = str(body["chat_id"])
        kept = self.server.keep("telegram", f"chat {chat_id}", {}, body)
        chat = {"id": int(chat_id), "type": "channel"} if chat_id.lstrip("-").isdigit() else \
            {"id": -1000000000000, "type": "channel", "username": chat_id.lstrip("@")}
        result = {"message_id": kept["id"], "date": int(datetime.now(timezone.utc).timestamp()), "chat": chat,
                  "text": body["text"]}
        self._send(200, json.dumps({"ok": True, "result": result}).encode(), "application/json")

    def _refuse(self, platform: str, reason: str):
        if platform == "telegram":
            answer = {"ok": False, "error_code": 400, "description": reason}
            return self._send(400, json.dumps(answer).encode(), "application/json")
        self._send(400, f"invalid_payload: {reason}\n".encode(), "text/plain; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str):
        self.send_response(status)
        if status != 204:
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and status != 204:
            self.wfile.write(body)

    def log_message(self, format, *args):
        log.debug("chat %s", format % args)


def _platform(path: str, headers) -> str | None:
    if _TELEGRAM.match(path):
        return "telegram"
    first = path.strip("/").split("/", 1)[0]
    if first in ("slack", "teams", "discord", "webhook"):
        return first
    return "webhook" if SIGNATURE_HEADER in headers else None


def start_chat(port: int) -> ChatReceiver:
    server = ChatReceiver(port)
    threading.Thread(target=server.serve_forever, name="chat", daemon=True).start()
    return server
