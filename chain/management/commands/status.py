import json

from django.core.management.base import BaseCommand

from chain.selectors import node_status, validator_set_rows
from chain.units import tokens_text


class Command(BaseCommand):
    help = "Show this site's height, consensus step, peers up, mempool size, and the validator set."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        status = node_status()
        validators = validator_set_rows()
        if options["json"]:
            self.stdout.write(json.dumps({**status, "validators": validators}, default=str))
            return
        scaling = status.pop("scaling")
        for key, value in status.items():
            if isinstance(value, dict):
                for name, figure in value.items():
                    self.stdout.write(f"{name:>22}: {figure}")
            else:
                self.stdout.write(f"{key:>22}: {value}")
        self._scaling(scaling)
        self.stdout.write("")
        self.stdout.write(
            f"{'validator':<14}{'region':<11}{'role':<11}{'stake GTX':>14}{'reputation':>12}"
            f"{'misses':>8}{'total':>7}{'proposed':>10}  state"
        )
        for v in validators:
            role = "authority" if v["authority"] else "validator"
            state = "jailed" if v["jailed"] else ("active" if v["active"] else "inactive")
            if not v["mining"]:
                state += ", not mining"
            self.stdout.write(
                f"{v['name']:<14}{v['region']:<11}{role:<11}{tokens_text(v['stake']):>14}"
                f"{v['reputation_ppm'] / 10_000:>11.1f}%{v['missed_in_row']:>8}{v['missed_total']:>7}"
                f"{v['blocks_proposed']:>10}  {state}"
            )

    def _scaling(self, scaling: dict) -> None:
        if not scaling["sharding"]:
            self.stdout.write(f"{'intake shards':>22}: off (intake runs in daphne)")
            return
        m = scaling["measurement"]
        self.stdout.write(
            f"{'intake shards':>22}: {scaling['active_shards']} active, by {scaling['sharding']}"
        )
        if m:
            self.stdout.write(
                f"{'measured':>22}: {m['tx_per_s']} tx/s, {m['latency_ms']} ms a batch, "
                f"CPU {m['cpu_percent']} %, {m['memory_mb']} MB, "
                f"{m['db_ops_per_s']} db ops/s over {m['window_s']} s"
            )
            for shard in m["shards"]:
                self.stdout.write(
                    f"{'shard ' + str(shard['shard']):>22}: {shard['tx_per_s']} tx/s of "
                    f"{shard['capacity_tx_per_s']} measured, load {shard['load']:.0%}, "
                    f"backlog {shard['backlog']}"
                )
        for d in scaling["decisions"]:
            self.stdout.write(f"{'decision':>22}: {d['at']} {d['from']} -> {d['to']}: {d['reason']}")
