"""A block's transactions are written by COPY text the producer formats itself: it must read back exactly."""

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction
from chain.models import ChainTx
from chain.services.admission import transactions_submit
from chain.services.blocks.chain_tx_copy import _copy_text, _text_array
from chain.services.consensus.step import consensus_step

# PostgreSQL text holds any character but NUL: tabs, newlines, backslashes, quotes, braces, commas.
texts = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=30)
rows = st.tuples(texts, st.lists(texts, max_size=4))


@pytest.mark.django_db
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows)
def test_escaped_copy_text_reads_back_as_the_values_it_was_made_from(row):
    """What the block writer escapes (payload, message, parties) survives COPY exactly."""
    text, array = row
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS copy_probe (a text, d text[])")
        cursor.execute("TRUNCATE copy_probe")
        with cursor.copy("COPY copy_probe FROM STDIN") as copy:
            copy.write(f"{_copy_text(text)}\t{_copy_text(_text_array(array))}\n")
        cursor.execute("SELECT a, d FROM copy_probe")
        assert cursor.fetchall() == [row]


@pytest.mark.django_db(transaction=True)
def test_a_committed_transaction_keeps_its_memo_and_parties_as_signed(chain, genesis, node_key):
    # A memo is one line (chain.ledger.fields): tabs and newlines in COPY are the probe's, above.
    memo = 'back\\slash, \\t and \\n spelled out, "quotes", {braces}, é and 😀'
    to = address_of(demo_key("home_malee"))
    tx = sign_transaction(
        demo_key("wind_korat"),
        chain_id=genesis.chain_id,
        nonce=0,
        kind="transfer",
        payload={"to": to, "amount": 5, "memo": memo},
    )
    transactions_submit([tx.to_wire()])
    consensus_step(node_key)
    stored = ChainTx.objects.get(hash=tx.hash)
    assert stored.payload == {"to": to, "amount": 5, "memo": memo}
    assert stored.parties == sorted({tx.sender, to})
    assert (stored.ok, stored.error_code, stored.error_message) == (True, "", "")
