"""Text the database can hold: NUL is escaped reversibly, every other text is stored as it is."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.canonical import sha256_hex
from bot.record.chain import text_matches
from storage.safetext import NUL, original, storable

# Text drawn mostly from the characters the escape is about, so that NUL, `%` and escape-like runs meet often.
TRICKY = st.text(alphabet=st.sampled_from([NUL, "%", "0", "2", "5", "a", "é", "\u2400"]) | st.characters(
    blacklist_categories=("Cs",)), max_size=40)


def test_examples() -> None:
    assert storable("drift at 5% %00") == "drift at 5% %00"  # no NUL: stored as it is, whatever it holds
    assert storable(f"a{NUL}b at 5%") == "a%00b at 5%25"
    assert storable(f"%00{NUL}") == "%2500%00"
    assert original("a%00b at 5%25") == f"a{NUL}b at 5%"
    assert storable(None) is None


@given(TRICKY)
def test_what_is_stored_holds_no_nul_and_gives_back_the_text(text: str) -> None:
    stored = storable(text)
    assert NUL not in stored
    assert (stored == text) if NUL not in text else (original(stored) == text)
    assert storable(stored) == stored  # storing what was read back changes nothing


@given(TRICKY)
def test_the_stored_form_matches_the_digest_of_what_was_said(text: str) -> None:
    assert text_matches(storable(text), sha256_hex(text))


@given(TRICKY, TRICKY)
def test_a_stored_text_matches_only_what_it_reads_as_or_unescapes_to(text: str, other: str) -> None:
    stored = storable(other)
    assert text_matches(stored, sha256_hex(text)) == (text in (stored, original(stored)))


def test_a_tampered_text_does_not_match() -> None:
    said = f"rollback at 14:05{NUL}"
    assert not text_matches(storable(said).replace("14:05", "14:50"), sha256_hex(said))
    assert not text_matches(storable(said).replace("%00", ""), sha256_hex(said))
