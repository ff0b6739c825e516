"""The README's main job: the stack comes up from settings and the demo completes over HTTP."""

from __future__ import annotations

import httpx

from core.config import Settings
from devkit.demo import Demo, oracle_pass
from devkit.roster import dev_accounts
from tanhui.services import Runtime, provision_dev_api_keys


def test_demo_runs_end_to_end_through_the_http_api(tmp_path):
    settings = Settings(data_dir=tmp_path, rpc_url=None, database_url=f"sqlite:///{tmp_path}/d.db",
                        api_port=0)
    rt = Runtime.start(settings)
    try:
        rt.start_indexer()
        assert rt.start_exchange()
        url = rt.serve_in_background(0)
        keys = provision_dev_api_keys(rt)
        addresses = {k: a.address for k, a in dev_accounts().items()}
        nodes = oracle_pass(settings.oracle_inbox, tmp_path / "oracle", rt.ledger)
        demo = Demo(url, keys, addresses, nodes)
        result = demo.run()
        assert result.verified
        assert len(result.retirement_ids) == 2
        assert len(result.steps) == Demo.STEPS
        attested = [s.name for s in result.steps if s.name.startswith("Report attested by")]
        assert attested == ["Report attested by oracle1", "Report attested by oracle2"]
        settled = next(s for s in result.steps if s.name == "Settled on chain")
        assert settled.tx_hash is not None
        credits = rt.ledger.c("CarbonCredits").functions.balanceOf(addresses["trader3"],
                                                                    result.batch_id)
        assert rt.chain.call(credits) == 50_000_000  # 50 t bought on the exchange
        orders = rt.ledger.c("CompensationOrders").functions
        assert rt.chain.call(orders.statusOf(1)) == 3  # the case's order fulfilled on chain
        assert result.fulfilment_url.endswith("/v1/compensation/orders/1/certificate")
        health = httpx.get(url + "/health").json()
        assert health["chain_id"] == 31337
    finally:
        rt.stop()
