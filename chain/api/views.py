"""REST endpoints of the ledger. Thin: parse, call a service or selector, render."""

import json

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from chain.api.errors import error_response
from chain.services.admission import BatchRejected, transactions_submit


class TransactionSubmitView(APIView):
    """Submit one signed transaction (an object) or a batch (a list), admitted whole or not at all."""

    authentication_classes = []  # signed transactions carry their own authority

    def post(self, request):
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return error_response(
                "malformed_json", "The body is not valid JSON.", status.HTTP_400_BAD_REQUEST
            )
        wires = body if isinstance(body, list) else [body]
        try:
            txs = transactions_submit(wires)
        except BatchRejected as exc:
            return error_response(exc.code, exc.message, status.HTTP_400_BAD_REQUEST, problems=exc.problems)
        return Response(
            {"accepted": len(txs), "hashes": [tx.hash for tx in txs], "status": "pending"},
            status=status.HTTP_202_ACCEPTED,
        )


class StatusView(APIView):
    """This node: chain id, height, last block time, mempool size, peers."""

    def get(self, request):
        from chain.selectors import node_status

        return Response(node_status())
