"""The bots' stats lines in both languages: counts, translated status and label words, nothing empty."""

import pytest

from bot.stats_text import stats_lines

STATS = {
    "flags": 12,
    "by_status": {"pending": 3, "confirmed": 9},
    "by_label": {"sexual": 10, "racial": 4},
    "by_source": {"detector": 11, "report": 1},
    "reports": 2,
    "reviews": 9,
    "incidents": 1,
    "actions": {"delete:ok": 4},
}
EMPTY = {"flags": 0, "by_status": {}, "by_label": {}, "by_source": {}, "reports": 0, "reviews": 0, "incidents": 0, "actions": {}}


@pytest.mark.parametrize(
    "st,lang,expected",
    [
        (
            STATS,
            "en",
            [
                "Flags: 12 (confirmed 9, pending 3)",
                "By label: racial 4, sexual 10",
                "By source: detector 11, report 1",
                "Reports: 2 · reviews: 9 · incidents: 1",
                "Actions: delete:ok 4",
            ],
        ),
        (
            STATS,
            "id",
            [
                "Tanda: 12 (dikonfirmasi 9, menunggu 3)",
                "Per label: rasial 4, seksual 10",
                "Per sumber: detector 11, report 1",
                "Laporan: 2 · tinjauan: 9 · insiden: 1",
                "Tindakan: delete:ok 4",
            ],
        ),
        (EMPTY, "en", ["Flags: 0 (none)", "By label: none", "By source: none", "Reports: 0 · reviews: 0 · incidents: 0", "Actions: none"]),
        (
            EMPTY,
            "id",
            ["Tanda: 0 (tidak ada)", "Per label: tidak ada", "Per sumber: tidak ada", "Laporan: 0 · tinjauan: 0 · insiden: 0", "Tindakan: tidak ada"],
        ),
    ],
)
def test_stats_lines(st, lang, expected):
    assert stats_lines(st, lang) == expected
