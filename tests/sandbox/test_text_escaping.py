"""Typed text reaches the app entity-escaped, as Slack sends it: `&` `<` `>` as entities, Slack's markup kept."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator
from tests.sandbox.fakeapp import FakeApp
from tests.sandbox.test_interactions import MODAL

TYPED = "p@k > 0.8 & recall < 0.5"
SENT = "p@k &gt; 0.8 &amp; recall &lt; 0.5"


async def test_message_and_edit_text_arrive_escaped(emulator: SlackEmulator, app: FakeApp, driver: SlackDriver,
                                                    client: AsyncWebClient) -> None:
    ts = await driver.post("alice", "#general", TYPED)
    await driver.edit("alice", "#general", ts, "now p@k >= 0.9 && ok")
    await emulator.drain()
    posted, edited = app.events("message")
    assert posted["text"] == SENT
    assert edited["subtype"] == "message_changed"
    assert edited["message"]["text"] == "now p@k &gt;= 0.9 &amp;&amp; ok"
    assert edited["previous_message"]["text"] == SENT
    history = await client.conversations_history(channel="C0GENERAL")
    assert history["messages"][0]["text"] == "now p@k &gt;= 0.9 &amp;&amp; ok"


async def test_markup_stays_markup_and_typed_brackets_do_not_become_markup(
        emulator: SlackEmulator, app: FakeApp, driver: SlackDriver) -> None:
    await driver.post("alice", "#general", "@bob see #general and https://x.example.com/q?a=1&b=2 "
                                           "but not <@U0BOB> or <!here> (a <https://evil.example|link>)")
    await emulator.drain()
    assert app.events("message")[0]["text"] == (
        "<@U0BOB> see <#C0GENERAL|general> and <https://x.example.com/q?a=1&amp;b=2> "
        "but not &lt;@U0BOB&gt; or &lt;!here&gt; (a &lt;<https://evil.example>|link&gt;)")


async def test_special_mentions_become_markup(emulator: SlackEmulator, app: FakeApp, driver: SlackDriver) -> None:
    await driver.post("alice", "#general", "@here @channel & @everyone: <!here>")
    await driver.command("alice", "#general", "note @here > @channel")
    await emulator.drain()
    assert app.events("message")[0]["text"] == "<!here> <!channel> &amp; <!everyone>: &lt;!here&gt;"
    assert app.forms()[0]["text"] == "note <!here> &gt; <!channel>"


async def test_a_typed_link_stops_at_an_escaped_bracket(emulator: SlackEmulator, app: FakeApp,
                                                        driver: SlackDriver) -> None:
    await driver.post("alice", "#general", "dashboards (<https://grafana.example.com/d/1>).")
    await emulator.drain()
    assert app.events("message")[0]["text"] == "dashboards (&lt;<https://grafana.example.com/d/1>&gt;)."


async def test_slash_command_text_is_escaped_with_and_without_should_escape(app: FakeApp,
                                                                            driver: SlackDriver) -> None:
    await driver.command("alice", "#general", f"start {TYPED} @bob")
    await driver.command("alice", "#general", f"start {TYPED} @bob", escape=False)
    escaped, plain = app.forms()
    assert escaped["text"] == f"start {SENT} <@U0BOB|bob>"
    assert plain["text"] == f"start {SENT} @bob"


async def test_modal_input_is_not_escaped(emulator: SlackEmulator, app: FakeApp, driver: SlackDriver,
                                          client: AsyncWebClient) -> None:
    view_id = (await client.views_open(trigger_id=emulator.issue_trigger("alice"), view=MODAL))["view"]["id"]
    await driver.submit_view("alice", view_id, {"title": TYPED, "commander": "bob"})
    view = app.interactions("view_submission")[-1]["view"]
    assert view["state"]["values"]["title"]["value"]["value"] == TYPED
