"""The browser's encoder (static/js/gtx_protocol.js) against the ledger's, byte for byte.

The same ES module the self-custody wallet imports runs here under node; for each
transaction its signing bytes must equal chain.ledger's, and a value the ledger refuses
must be refused by the browser too (a client that signs what the site encodes otherwise
gets ``bad_signature``).
"""

import json
import shutil
import subprocess
from pathlib import Path

from chain.ledger.encoding import MAX_SAFE_INTEGER, canonical_json
from chain.ledger.errors import LedgerError
from chain.ledger.tx import Transaction
from chain.services.accounts import LINK_DOMAIN, self_custody_link_message

MODULE = Path(__file__).resolve().parents[2] / "static/js/gtx_protocol.js"
SENDER = "ab" * 32

RUNNER = """
import * as p from %s;
const cases = JSON.parse(await new Promise((resolve) => {
  let text = ""; process.stdin.on("data", (d) => (text += d)); process.stdin.on("end", () => resolve(text));
}));
const out = cases.map(([what, value]) => {
  try {
    if (what === "tx") return p.bytesToHex(p.txSigningBytes(value));
    if (what === "link") return p.bytesToHex(p.linkMessageBytes(value));
    if (what === "units") return p.decimalToUnits(value[0], value[1]);
    return p.canonicalJson(value);
  } catch (e) {
    if (e instanceof p.EncodingError) return "refused";
    throw e;
  }
});
process.stdout.write(JSON.stringify(out));
"""

TRICKY_STRINGS = [
    "",
    "plain ascii ~",
    "\x7f",  # the encoder escapes DEL (PROTOCOL.md 2)
    "a\x7fb\x80c",
    "\x00\x01\x1f \x08\x0c\n\r\t",
    '"quoted" \\ back/slash',
    "ค่าไฟ",  # Thai
    "é e\u0301 ß ŉ",
    "😀 \U0001f600\U0010ffff",  # above U+FFFF: surrogate pairs
    "\ud800 lone \udfff",  # lone surrogates, as a decoded JSON string may hold
    "\u2028\u2029\ufeff\uffff",
    "\u00a0\u200b",
]
TRICKY_KEYS = ["b", "a", "B", "é", "\U0001f600", "\uffff", "\ue000", "aa", "a\x00"]


def run_node(cases: list) -> list:
    script = RUNNER % json.dumps(MODULE.as_uri())
    done = subprocess.run(  # noqa: S603 (node and our own script)
        [shutil.which("node"), "--input-type=module", "-e", script],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def python_side(what: str, value):
    try:
        if what == "tx":
            return Transaction(
                value["chain_id"], value["sender"], value["nonce"], value["kind"], value["payload"], ""
            ).signing_bytes.hex()
        return canonical_json(value).decode("ascii")
    except LedgerError:
        return "refused"


def tx(payload: dict, nonce: int = 0) -> dict:
    return {
        "chain_id": "gridtokenx-th-demo-1",
        "sender": SENDER,
        "nonce": nonce,
        "kind": "transfer",
        "payload": payload,
    }


CASES = [
    *[("tx", tx({"to": SENDER, "amount": 1, "memo": s})) for s in TRICKY_STRINGS],
    ("tx", tx({key: index for index, key in enumerate(TRICKY_KEYS)})),
    (
        "tx",
        tx({"amount": MAX_SAFE_INTEGER, "negative": -MAX_SAFE_INTEGER, "zero": 0}, nonce=MAX_SAFE_INTEGER),
    ),
    ("tx", tx({"nested": {"z": [1, [2, {"é": None}]], "a": True, "b": False}})),
    ("json", {"b": 1, "a": [1, 2], "B": {"z": None, "é": True}}),
    ("json", {"too big": MAX_SAFE_INTEGER + 1}),
    ("json", {"too small": -MAX_SAFE_INTEGER - 1}),
    ("json", [[[[[[[[0]]]]]]]]),  # the 0 is 8 levels below the top: allowed
    ("json", [[[[[[[[[0]]]]]]]]]),  # 9: refused
    ("json", {"😀": 1, "\uffff": 2, "\ue000": 3}),  # code point order, not UTF-16 order
]


def test_the_browser_encodes_like_the_ledger():
    browser = run_node([list(case) for case in CASES])
    for (what, value), got in zip(CASES, browser, strict=True):
        assert got == python_side(what, value), (what, value)
    assert browser.count("refused") == 3


def test_the_browser_signs_the_link_message_the_site_checks():
    fields = {
        "address": SENDER,
        "chain_id": "gridtokenx-th-demo-1",
        "challenge": "0f" * 16,
        "site": "127.0.0.1:8000",
        "username": "ผู้ใช้\x7f",
    }
    [browser] = run_node([["link", fields]])
    assert browser == self_custody_link_message(**fields).hex()


def test_the_browser_turns_typed_decimals_into_exact_units():
    typed = [
        ["12.5", 6],
        ["0.000001", 6],
        [".5", 3],
        ["1.", 3],
        ["0.0000001", 6],
        ["1e3", 6],
        ["-1", 6],
        ["1,5", 6],
        ["9007199254.740991", 6],
        ["9007199254.740992", 6],
        ["๑", 6],
    ]
    assert run_node([["units", t] for t in typed]) == [
        12_500_000,
        1,
        500,
        1000,
        None,
        None,
        None,
        None,
        MAX_SAFE_INTEGER,
        None,
        None,
    ]


def test_the_protocol_document_says_what_the_encoders_do():
    """§2 once said U+007F is not escaped (a client following it got bad_signature); §3 and
    §4.1 give the link message's tag as the site has it."""
    doc = (MODULE.parents[2] / "docs/PROTOCOL.md").read_text()
    assert canonical_json("\x7f") == b'"\\u007f"'
    assert "(DEL → `\\u007f`" in doc
    assert "U+007F are not escaped" not in doc
    assert f"| `GRIDTOKENX/LINK/V1\\n` | `{LINK_DOMAIN.hex()}` |" in doc
