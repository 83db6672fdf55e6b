"""What the Discord adapter writes itself: the notice when Discord refuses an action, in the server's language."""

import pytest


@pytest.mark.parametrize(
    "kind,lang,expected",
    [
        ("delete", "en", "⚠️ Could not delete for https://x/1: 403 <\u200b@1>. Check that triagebot has **Manage Messages**"),
        ("ban", "id", "⚠️ Tidak bisa memblokir untuk https://x/1: 403 <\u200b@1>. Pastikan triagebot punya izin **Ban Members**"),
        ("warn", "id", "⚠️ Tidak bisa memperingatkan untuk https://x/1: 403 <\u200b@1>. Tanda tetap ada di antrean."),
        ("unflag", "en", "⚠️ Could not unflag for https://x/1: 403 <\u200b@1>. Check that triagebot has **the needed permission**"),
    ],
)
def test_failure_notice_in_the_servers_language(kind, lang, expected):
    from bot.platforms.discord_render import failure_notice

    assert failure_notice(kind, "403 <@1>", "https://x/1", lang).startswith(expected)
