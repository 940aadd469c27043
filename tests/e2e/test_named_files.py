"""Evidence that names what it means: `/retro evidence file` resolves a name, id or link to a file shared in the
incident channel and hashes its bytes; `/retro datacheck` refuses empty inputs and says what to give instead of
evidence that holds no data; PromQL with spaces outside backticks is refused with the command corrected."""

from __future__ import annotations

import asyncio
import hashlib

from sqlmodel import col, select

from bot.app.local import LocalStack
from bot.incident import evidence
from sandbox import CommandResult
from sandbox.shapes import file_json
from storage.models import Evidence
from tests.e2e.helpers import declare, run
from tests.reminder_world import ALICE

DATA = b"id,amount\n1,2.5\n2,3.5\n3,4.5\n"


async def _items(stack: LocalStack, incident_id: int) -> list[Evidence]:
    async with stack.deps.session() as s:
        return list((await s.exec(select(Evidence).where(Evidence.incident_id == incident_id)
                                  .order_by(col(Evidence.number)))).all())


async def _answered(result: CommandResult, *needles: str) -> str:
    """The replies once one holds a needle (a data check answers after its ack)."""
    deadline = asyncio.get_running_loop().time() + 30
    while not any(n in result.text() for n in needles):
        assert asyncio.get_running_loop().time() < deadline, result.text()
        await asyncio.sleep(0.05)
    return result.text()


async def test_a_file_named_by_name_id_or_link_is_found_in_the_channel_and_hashed(stack: LocalStack) -> None:
    drv = stack.driver
    incident, _ = await declare(stack, "Scores shifted")
    ch = incident.channel_name
    first = await drv.share_file("dave", ch, "scores.csv", DATA)
    newer = await drv.share_file("erin", ch, "Scores.csv", DATA + b"4,5.5\n")  # the same name, shared later
    await drv.share_file("dave", ch, "notes.txt", b"seen at 10:05")
    await stack.settle()

    by_name = await run(stack, "dave", ch, "evidence file scores.csv the window we scored")
    assert "file sha256" in by_name.text()
    permalink = file_json(drv.ws, drv.ws.files[first])["permalink"]  # as Slack shows it: …/files/U…/F…/scores.csv
    await run(stack, "dave", ch, f"evidence file {permalink} as a link")
    await run(stack, "dave", ch, f"evidence file {newer}")
    await run(stack, "dave", ch, "evidence file SCORES.CSV")  # no exact match: the newest of that name

    e1, e2, e3, e4 = await _items(stack, incident.id or 0)
    assert (e1.file_id, e1.file_sha256, e1.ref) == (first, hashlib.sha256(DATA).hexdigest(), "scores.csv")
    assert e2.file_id == first and e3.file_id == newer and e4.file_id == newer
    assert e1.custody["file"]["name"] == "scores.csv" and e1.custody["file"]["size"] == len(DATA)

    unknown = await run(stack, "dave", ch, "evidence file score.csv")
    said = unknown.text()
    assert "No file named `score.csv` was shared in this channel" in said
    for name in ("notes.txt", "Scores.csv", "scores.csv"):
        assert f"`{name}`" in said
    assert said.index("`notes.txt`") < said.index("`Scores.csv`") < said.index("`scores.csv`")  # newest first
    assert len(await _items(stack, incident.id or 0)) == 4  # nothing recorded for it


async def test_datacheck_refuses_empty_inputs_and_points_at_what_holds_data(stack: LocalStack) -> None:
    drv = stack.driver
    incident, _ = await declare(stack, "Empty export")
    ch = incident.channel_name
    await drv.share_file("erin", ch, "good.csv", DATA)
    await drv.share_file("erin", ch, "blank.csv", b"\n \n\n")
    await drv.share_file("erin", ch, "header.csv", b"id,amount\n\n")
    await stack.settle()

    blank = await _answered(await run(stack, "erin", ch, "datacheck baseline=blank.csv current=good.csv"), "nothing")
    assert "The baseline snapshot holds nothing to compare: `blank.csv` is empty (4 bytes" in blank
    header = await _answered(await run(stack, "erin", ch, "datacheck baseline=good.csv current=header.csv"),
                             "nothing")
    assert "The current snapshot holds nothing to compare: `header.csv` has a header (id, amount) but no data rows" \
        in header and "Nothing was compared or recorded" in header
    assert await _items(stack, incident.id or 0) == []

    # Evidence that holds no data: a log link, and a file named before names were looked up (no bytes kept).
    async with stack.deps.session() as session:
        for kind, ref in (("log", "https://logs.example/run/7"), ("file", "train.csv")):
            item = evidence.validate(kind, ref, "", {}, now=stack.deps.now())
            await evidence.add(session, incident=incident, item=item, actor=ALICE, now=stack.deps.now())
    link = (await run(stack, "erin", ch, "datacheck baseline=E1 current=good.csv")).text()
    assert "E1 is log evidence that points elsewhere" in link and "a file shared in this channel" in link
    named = (await run(stack, "erin", ch, "datacheck baseline=E2 current=good.csv")).text()
    assert "E2 names the file `train.csv` but holds none of its bytes" in named
    for told in (link, named):
        assert "/retro evidence file" not in told  # never: add it again the way it was added
    assert len(await _items(stack, incident.id or 0)) == 2


async def test_promql_with_spaces_outside_backticks_is_refused_with_the_corrected_command(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Latency spike")
    ch = f"#{incident.channel_name}"
    refused = await run(stack, "alice", ch, "evidence metric rate(http_requests_total[5m]) > 5 the spike at=-5m")
    said = refused.text()
    assert "This PromQL expression has spaces" in said
    assert "```/retro evidence metric `rate(http_requests_total[5m]) > 5` the spike at=-5m```" in said
    grouped = (await run(stack, "alice", ch, "evidence metric sum by (job) (rate(errors[5m])) per job")).text()
    assert "`sum by (job) (rate(errors[5m]))` per job" in grouped
    assert await _items(stack, incident.id or 0) == []

    await run(stack, "alice", ch, "evidence metric `rate(http_requests_total[5m]) > 5` the spike")
    await run(stack, "alice", ch, "evidence metric up the exporter came back")
    quoted, single = await _items(stack, incident.id or 0)
    assert (quoted.ref, quoted.note) == ("rate(http_requests_total[5m]) > 5", "the spike")
    assert (single.ref, single.note) == ("up", "the exporter came back")
