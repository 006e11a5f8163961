"""Safe mrkdwn: escaping, cutting without splitting entities, code blocks, control sequences."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.blocks_kit import (
    BLOCKS_TEXT_BUDGET,
    SECTION_TEXT_MAX,
    button,
    confirm_dialog,
    header,
    pack_lines,
    section,
    text_size,
)
from bot.mrkdwn import (
    clip,
    code,
    code_block,
    cut_escaped,
    duration_text,
    escape,
    link,
    short_revision,
    slack_date,
    user_ref,
)


def test_escape_turns_control_characters_into_entities() -> None:
    assert escape("a & b <@U1> <!here> >") == "a &amp; b &lt;@U1&gt; &lt;!here&gt; &gt;"


@pytest.mark.parametrize("limit", range(1, 40))
def test_clip_never_exceeds_the_limit_nor_splits_an_entity(limit: int) -> None:
    text = "<<&&>> release & rollback <@U0ALICE>"
    cut = clip(text, limit)
    assert len(cut) <= limit
    # every "&" starts a whole entity
    for index, char in enumerate(cut):
        if char == "&":
            assert cut[index:].startswith(("&amp;", "&lt;", "&gt;"))
    assert "<" not in cut and ">" not in cut


def test_clip_keeps_short_text_and_marks_cuts() -> None:
    assert clip("short", 10) == "short"
    assert clip("x" * 20, 10) == "x" * 9 + "…"
    assert cut_escaped("a&amp;b", 4) == "a…"


def test_code_block_cuts_at_line_boundaries_and_counts_what_it_left_out() -> None:
    text = "\n".join(f"line {i}" for i in range(1000))
    block = code_block(text, 500)
    assert len(block.text) <= 500
    assert block.text.startswith("```\nline 0\n") and block.text.endswith("more lines\n```")
    assert block.truncated and block.omitted_lines > 900
    assert f"… {block.omitted_lines} more lines" in block.text
    whole = code_block("a\nb", 500)
    assert whole.text == "```\na\nb\n```" and not whole.truncated


def test_code_block_neutralises_fences_and_escapes() -> None:
    block = code_block("before\n```\n<!channel> & *bold*\n```", 500)
    assert block.text.count("```") == 2
    assert "&lt;!channel&gt; &amp;" in block.text


def test_code_block_cuts_a_single_overlong_line() -> None:
    block = code_block("x" * 10_000, 300)
    assert len(block.text) <= 300 and block.truncated and "…" in block.text


def test_user_refs_only_mention_valid_user_ids() -> None:
    assert user_ref("U0ALICE") == "<@U0ALICE>"
    assert user_ref("W0GRID") == "<@W0GRID>"
    assert user_ref("") == user_ref("automated") == "auto-sync"
    assert user_ref("<!channel>") == "&lt;!channel&gt;"
    assert user_ref("U0ALICE|x>") == "U0ALICE|x&gt;"


def test_links_only_for_plain_http_urls() -> None:
    assert link("https://github.com/o/r/commit/abc", "`abc`") == (
        "<https://github.com/o/r/commit/abc|`abc`>"
    )
    assert link("javascript:alert(1)", "x") == "x"
    assert link("https://x/a|<!channel>", "x") == "x"
    assert link("https://x/a b", "x") == "x"


def test_revisions_times_and_durations() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert short_revision(sha) == "0123456"
    assert short_revision("feature/<x>") == "feature/&lt;x&gt;"
    assert short_revision("") == "?"
    when = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert slack_date(when) == (
        "<!date^1714557600^{date_short_pretty} {time}|2024-05-01 10:00 UTC>"
    )
    assert duration_text(42) == "42s"
    assert duration_text(185) == "3m 05s"
    assert duration_text(3720) == "1h 02m"
    assert code("a`b") == "`aˋb`"


def test_primitives_cut_to_their_field_limits() -> None:
    assert len(header("h" * 500)["text"]["text"]) == 150
    assert len(section("s" * 5000)["text"]["text"]) == SECTION_TEXT_MAX
    dialog = confirm_dialog("t" * 200, "x" * 400, "c" * 50, "d" * 50, style="danger")
    assert len(dialog["title"]["text"]) == 100 and len(dialog["text"]["text"]) == 300
    assert len(dialog["confirm"]["text"]) == 30 and len(dialog["deny"]["text"]) == 30
    assert len(button("b" * 100, "act")["text"]["text"]) == 75
    with pytest.raises(ValueError, match="action_id"):
        button("b", "a" * 256)
    with pytest.raises(ValueError, match="value"):
        button("b", "act", "v" * 2001)


def test_pack_lines_respects_blocks_sections_and_budget() -> None:
    lines = [f"line {i} " + "x" * 90 for i in range(1000)]
    blocks, shown = pack_lines(lines, max_blocks=5, budget=BLOCKS_TEXT_BUDGET)
    assert len(blocks) <= 5 and 0 < shown < 1000
    assert all(len(b["text"]["text"]) <= SECTION_TEXT_MAX for b in blocks)
    assert text_size(blocks) <= BLOCKS_TEXT_BUDGET
    assert sum(b["text"]["text"].count("\n") + 1 for b in blocks) == shown
    small, count = pack_lines(lines, max_blocks=50, budget=1000)
    assert count == sum(s["text"]["text"].count("\n") + 1 for s in small)
    assert text_size(small) <= 1000
    assert pack_lines(lines, max_blocks=0, budget=1000) == ([], 0)
