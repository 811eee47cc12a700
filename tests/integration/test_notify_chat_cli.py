"""`beacon channels` against the API served locally: the API's refusals reach the admin, listings are masked."""
from tools.cli import main
from tests.integration.api_server import api, api_server  # noqa: F401


def beacon(api, capsys, *argv):  # noqa: F811
    code = main([*argv, "--api", api.url, "--key", api.admin_secret])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_admin_adds_and_lists_chat_channels_from_the_command_line(api, capsys):  # noqa: F811
    # WHEN an admin adds a Slack webhook that points at this machine
    code, out, err = beacon(api, capsys, "channels", "add", "slack", "--label", "ops",
                            "--url", "https://127.0.0.1/services/T0/B0/secret")
    # THEN the target guard's refusal is shown and the command exits 1
    assert code == 1 and "loopback" in err
    # AND a Telegram chat without a bot token is refused naming the field
    code, out, err = beacon(api, capsys, "channels", "add", "telegram", "--label", "ops", "--chat-id", "-100123")
    assert code == 1 and "bot_token" in err
    # AND the listing is empty
    code, out, err = beacon(api, capsys, "channels", "list")
    assert code == 0 and out == ""
