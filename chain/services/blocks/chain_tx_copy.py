"""A block's transactions and receipts into ``chain_chaintx``, as one COPY in its text format."""

from django.db import connection


def chain_txs_copy(height: int, result, parties: list[list[str]], stored: dict[str, tuple[str, str]]) -> None:
    """Every included transaction with its receipt, in one COPY.

    The rows are written as COPY text here: psycopg's ``write_row`` looks up a
    dumper for every value, which costs three times as much per transaction.
    Hashes, the sender, the signature (each verified), kinds, codes and
    timestamps are hex or plain words; the payload, the message and the parties
    (any 64-character string a payload names) are escaped. ``stored`` is each
    transaction's (payload JSON, received_at), as chain.services.mempool.mempool_remove gives it.
    """
    lines = []
    rows = zip(result.included, result.receipts, parties, strict=True)
    for position, (tx, receipt, tx_party_list) in enumerate(rows):
        payload_json, received_at = stored[tx.hash]
        lines.append(
            f"{tx.hash}\t{height}\t{position}\t{tx.sender}\t{tx.nonce}\t{tx.kind}\t"
            f"{_copy_text(payload_json)}\t{tx.signature}\t{'t' if receipt.ok else 'f'}\t"
            f"{receipt.code}\t{_copy_text(receipt.message)}\t{_copy_text(_text_array(tx_party_list))}\t"
            f"{received_at}\n"
        )
    with connection.cursor() as cursor:
        with cursor.copy(
            "COPY chain_chaintx (hash, block_id, position, sender, nonce, kind, payload, signature, ok, "
            "error_code, error_message, parties, received_at) FROM STDIN"
        ) as copy:
            copy.write("".join(lines))


def _copy_text(value: str) -> str:
    """A value in COPY's text format: backslash, tab, newline and carriage return escaped.

    Four ``replace`` scans in C: ``str.translate`` to two-character escapes went
    through a dict per character, and was a tenth of a commit's CPU.
    """
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _text_array(values: list[str]) -> str:
    """A text[] literal, each element quoted (a payload may name any 64-character string)."""
    return "{" + ",".join(['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]) + "}"
