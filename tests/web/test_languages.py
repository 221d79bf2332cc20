"""English and Thai (README "Languages"): every page of the role matrix renders in both with
the same status, the header's switch remembers the choice, and the converted templates
hold no visible English outside translate tags."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tests.conftest import ROLES
from tests.web.test_permissions import MATRIX, world  # noqa: F401 (the matrix's fixture)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
THAI_LETTER = re.compile(r"[\u0e01-\u0e5b]")

GET_ROUTES = [(path, statuses) for method, path, _, statuses in MATRIX if method == "GET"]


def thai(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "th"
    return client


@pytest.mark.parametrize(("path", "statuses"), GET_ROUTES, ids=[path for path, _ in GET_ROUTES])
def test_every_page_of_the_matrix_answers_the_same_in_thai(client_as, world, path, statuses):  # noqa: F811
    url = path.format(**world)
    answers = {}
    for role in ROLES:
        with transaction.atomic():
            response = thai(client_as(role)).get(url)
            transaction.set_rollback(True)
        answers[role] = response.status_code
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            body = response.content.decode()
            if "<html" in body:  # a whole page, not an htmx part
                assert '<html lang="th"' in body, (role, url)
                assert "ออกจากระบบ" in body or "เข้าสู่ระบบ" in body, (
                    role,
                    url,
                )  # the header's Log out / Log in
    assert answers == dict(zip(ROLES, statuses, strict=True))


def test_english_stays_the_default(client_as):
    body = client_as("consumer").get("/wallet/").content.decode()
    assert (
        '<html lang="en"' in body
        and "Your wallet" in body
        and not THAI_LETTER.search(body.split("<footer")[0])
    )


def test_the_switch_remembers_thai_in_a_cookie_and_returns_to_the_page(client_as):
    client = client_as("consumer")
    response = client.post("/i18n/setlang/", {"language": "th", "next": "/wallet/"})
    assert response.status_code == 302 and response["Location"] == "/wallet/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "th"
    body = client.get("/wallet/").content.decode()
    assert "กระเป๋าเงินของคุณ" in body and "โทเค็น" in body
    back = client.post("/i18n/setlang/", {"language": "en", "next": "/wallet/"})
    assert back.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert "Your wallet" in client.get("/wallet/").content.decode()


def test_the_switch_needs_csrf_and_refuses_other_sites_and_languages(users):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/i18n/setlang/", {"language": "th", "next": "/"}).status_code == 403
    client = Client()
    away = client.post("/i18n/setlang/", {"language": "th", "next": "https://evil.example/"})
    assert away.status_code == 302 and away["Location"] == "/"
    unknown = client.post("/i18n/setlang/", {"language": "xx", "next": "/"})
    assert settings.LANGUAGE_COOKIE_NAME not in unknown.cookies


def test_thai_dates_have_thai_month_names_and_the_gregorian_year(client, committed_transfer):
    """Django's th formats: Thai month names, Gregorian year (it has no Buddhist era)."""
    now = timezone.localtime()
    body = thai(client).get("/").content.decode()
    thai_month_abbreviations = "ม.ค. ก.พ. มี.ค. เม.ย. พ.ค. มิ.ย. ก.ค. ส.ค. ก.ย. ต.ค. พ.ย. ธ.ค.".split()
    assert f"{now.day} {thai_month_abbreviations[now.month - 1]} {now.year}" in body


def test_the_order_tickets_messages_follow_the_language():
    """Its labels and its error messages: English by default, Thai under Thai."""
    from django.core.exceptions import ValidationError
    from django.utils import translation

    from trading.forms import ENERGY_NOT_A_NUMBER, OrderForm, parse_kwh

    with translation.override("th"), pytest.raises(ValidationError) as thai:
        parse_kwh("abc")
    with pytest.raises(ValidationError) as english:
        parse_kwh("abc")
    assert THAI_LETTER.search(thai.value.messages[0])
    assert english.value.messages == [ENERGY_NOT_A_NUMBER]
    label = OrderForm.base_fields["price"].label
    assert str(label) == "Limit price (tokens per kWh)"
    with translation.override("th"):
        assert THAI_LETTER.search(str(label))


# --- no visible English outside translate tags, in the converted templates ----------

#: Templates whose visible text is all marked for translation. The rest are still English
#: only (README "Languages" says which); add a template here once it is converted.
CONVERTED_TEMPLATES = [
    "templates/base.html",
    "templates/partials/nav_links.html",
    "templates/home.html",
    "templates/registration/login.html",
    "templates/registration/signup.html",
    "templates/chain/wallet/page.html",
    "templates/chain/wallet/_balances.html",
    "templates/chain/wallet/none.html",
    "templates/chain/wallet/_form.html",
    "templates/chain/wallet/_hint.html",
    "templates/chain/wallet/_live.html",
    "templates/chain/wallet/_activity.html",
    "templates/chain/activity/_transactions.html",
    "templates/chain/activity/_feed.html",
    "templates/chain/activity/page.html",
    "trading/templates/trading/market.html",
    "trading/templates/trading/trade.html",
    "trading/templates/trading/_form.html",
    "trading/templates/trading/_ticket_summary.html",
    "trading/templates/trading/_book.html",
    "trading/templates/trading/agreements.html",
    "trading/templates/trading/_agreements.html",
    "trading/templates/trading/_chart.html",
    "trading/templates/trading/_fills.html",
    "trading/templates/trading/_mine.html",
    "trading/templates/trading/_overview.html",
    "trading/templates/trading/_trades.html",
    "trading/templates/trading/_wallet.html",
    "treasury/templates/treasury/holder.html",
    "treasury/templates/treasury/_holder_status.html",
    "treasury/templates/treasury/_holder_requests.html",
    "treasury/templates/treasury/queue.html",
    "templates/chain/wallet/key.html",
    "templates/chain/wallet/_self_custody.html",
    "templates/registration/signup_self_custody.html",
    "governance/templates/governance/list.html",
    "governance/templates/governance/_list.html",
    "governance/templates/governance/detail.html",
    "governance/templates/governance/_tally.html",
    "governance/templates/governance/_tally_bar.html",
    "governance/templates/governance/_vote.html",
    "governance/templates/governance/_votes.html",
    "governance/templates/governance/new.html",
    "governance/templates/governance/_form.html",
    "governance/templates/governance/validators.html",
    "governance/templates/governance/_health.html",
    "governance/templates/governance/validator_audit.html",
    "meters/templates/meters/meters.html",
    "meters/templates/meters/meter.html",
    "meters/templates/meters/register.html",
    "meters/templates/meters/requests.html",
    "meters/templates/meters/_request_list.html",
    "meters/templates/meters/request_queue.html",
    "grid/templates/grid/dashboard.html",
    "grid/templates/grid/region.html",
    "grid/templates/grid/_map.html",
    "grid/templates/grid/_paths.html",
    "grid/templates/grid/_operator.html",
    "templates/chain/explorer/index.html",
    "templates/chain/explorer/_block_row.html",
    "templates/chain/explorer/_search.html",
    "templates/chain/explorer/block.html",
    "templates/chain/explorer/transaction.html",
    "templates/chain/explorer/account.html",
    "templates/chain/explorer/not_found.html",
    "templates/chain/node/status.html",
    "audit/templates/audit/_nav.html",
    "audit/templates/audit/_pager.html",
    "audit/templates/audit/_progress.html",
    "audit/templates/audit/home.html",
    "audit/templates/audit/trades.html",
    "audit/templates/audit/blocks.html",
    "audit/templates/audit/account_search.html",
    "audit/templates/audit/account.html",
    "audit/templates/audit/verify.html",
    "audit/templates/audit/verification.html",
    "audit/templates/audit/surveillance.html",
    "audit/templates/audit/treasury.html",
    "audit/templates/audit/certificates.html",
    "audit/templates/audit/reports.html",
    "settlement/templates/settlement/certificates.html",
    "settlement/templates/settlement/statement.html",
    "settlement/templates/settlement/_statement_lines.html",
    "settlement/templates/settlement/carbon.html",
    "settlement/templates/settlement/trade_detail.html",
    "templates/chain/wallet/list.html",
    "templates/chain/activity/_tx_state.html",
    "templates/chain/partials/tx_label.html",
    "templates/chain/app/offline.html",
    "templates/403.html",
    "templates/404.html",
]
#: Names and units that read the same in both languages.
UNTRANSLATED_WORDS = {"GridTokenX", "GTX", "kWh", "kW", "MW", "MWh", "Hz", "API", "g", "kg", "CO₂"}

TRANSLATED_BLOCK = re.compile(r"{%\s*blocktranslate\b.*?{%\s*endblocktranslate\s*%}", re.S)
TEMPLATE_COMMENT = re.compile(r"{#.*?#}|{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", re.S)
TEMPLATE_TAG = re.compile(r"{%.*?%}|{{.*?}}", re.S)
CODE_ELEMENT = re.compile(r"<(script|style)\b.*?</\1>", re.S | re.I)
VISIBLE_ATTRIBUTE = re.compile(r"""\b(?:title|aria-label|placeholder|alt)\s*=\s*(["'])(.*?)\1""", re.S)
HTML_TAG = re.compile(r"<[^>]*>", re.S)
ENTITY = re.compile(r"&#?\w+;")
WORD = re.compile(r"[^\W\d_]+")


def untranslated_text(source: str) -> list[str]:
    """The visible words a template shows that no translate tag covers: text between HTML
    tags and the values of attributes people read (title, aria-label, placeholder, alt),
    once blocktranslate blocks, comments, template tags and variables, scripts and entities
    are taken out. A word counts when it has letters and is not a name or unit."""
    text = CODE_ELEMENT.sub(" ", TRANSLATED_BLOCK.sub(" ", TEMPLATE_COMMENT.sub(" ", source)))
    text = TEMPLATE_TAG.sub(" ", text)
    pieces = [value for _, value in VISIBLE_ATTRIBUTE.findall(text)]
    pieces += HTML_TAG.split(text)
    found = []
    for piece in pieces:
        words = [w for w in WORD.findall(ENTITY.sub(" ", piece)) if w not in UNTRANSLATED_WORDS]
        if words:
            found.append(" ".join(piece.split()))
    return found


def test_the_rule_finds_english_and_passes_what_is_marked():
    assert untranslated_text('<p title="Hi">{% translate "Wallet" %} · {{ x }} GTX</p>') == ["Hi"]
    assert untranslated_text("{% if a %}Your wallet{% endif %}") == ["Your wallet"]
    assert untranslated_text("{% blocktranslate %}Send {{ n }} kWh{% endblocktranslate %}") == []
    assert untranslated_text("{# a note #}<script>let word = 1</script>&lt;5 kWh") == []


@pytest.mark.parametrize("template", CONVERTED_TEMPLATES)
def test_converted_templates_show_no_untranslated_english(template):
    assert untranslated_text((ROOT / template).read_text()) == []


TRANSLATE_TAG = re.compile(r"""{%\s*translate\s+"([^"]*)"\s*%}""")


def test_every_marked_string_has_a_thai_translation():
    catalog = (ROOT / "locale/th/LC_MESSAGES/django.po").read_text()
    joined = catalog.replace('"\n"', "")  # a long msgid is wrapped over several lines
    for template in CONVERTED_TEMPLATES:
        for text in TRANSLATE_TAG.findall((ROOT / template).read_text()):
            assert f'msgid "{text}"' in joined, (template, text)
    entries = catalog.split("\n\n")[1:]
    untranslated = [e for e in entries if re.search(r'^msgstr(\[0\])? ""\Z', e.strip(), re.M)]
    assert not untranslated
    assert "#, fuzzy" not in catalog


JS_GETTEXT = re.compile(r"""\bgettext\("((?:[^"\\]|\\.)*)"\)""")


def test_every_string_the_scripts_write_has_a_thai_translation():
    """What static/js writes goes through gettext(); its catalog (djangojs.po) has each, in Thai."""
    catalog = (ROOT / "locale/th/LC_MESSAGES/djangojs.po").read_text()
    joined = catalog.replace('"\n"', "")
    marked = {
        text.replace("\\u201c", "“").replace("\\u201d", "”")
        for script in sorted((ROOT / "static/js").glob("*.js"))
        for text in JS_GETTEXT.findall(script.read_text())
    }
    assert len(marked) > 50
    for text in marked:
        assert f'msgid "{text}"' in joined, text
    entries = catalog.split("\n\n")[1:]
    assert not [e for e in entries if re.search(r'^msgstr(\[0\])? ""\Z', e.strip(), re.M)]
    assert "#, fuzzy" not in catalog


def test_the_scripts_catalog_follows_the_language(client):
    english = client.get("/jsi18n/").content.decode()
    client.cookies["django_language"] = "th"
    thai = client.get("/jsi18n/").content.decode()
    assert "globals.gettext" in english and "Live updates: connected" not in english
    translated = "อัปเดตสด: เชื่อมต่อแล้ว".encode("ascii", "backslashreplace").decode()  # as JSON escapes it
    assert f'"Live updates: connected": "{translated}"' in thai
