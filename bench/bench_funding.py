"""Gas of funding on Ape's in-process test provider. Prints `name: value` lines (gas).

- gas_update_funding: one Funding.update_funding (the keeper's per-market, per-interval
  transaction), steady state (the market's index already non-zero), intrinsic included.
- gas_update_funding_first: the first rate of a market (index slot written from zero).

Run: .venv/bin/python bench/bench_funding.py (from the repository root).
"""

from __future__ import annotations

import os

from offchain.devnet import PROJECT_ROOT

os.chdir(PROJECT_ROOT)  # Ape's project is the repository, wherever this runs from

import ape  # noqa: E402

USDC = 10**6
INTERVAL = 60


def main() -> None:
    from ape.logging import logger

    logger.set_level("ERROR")
    with ape.networks.parse_network_choice("ethereum:local:test"):
        project = ape.project
        admin, operator = ape.accounts.test_accounts[0], ape.accounts.test_accounts[1]
        oracle = project.Oracle.deploy(5_000, 3_600, 5_000, 1, sender=admin)
        oracle.grantRole(oracle.REPORTER_ROLE(), admin, sender=admin)
        funding = project.Funding.deploy(oracle, sender=admin)
        funding.grantRole(funding.FUNDING_ROLE(), operator, sender=admin)
        funding.set_funding_config(1, INTERVAL, 10**10, sender=admin)
        chain = ape.chain
        gas = []
        for _ in range(3):
            chain.pending_timestamp = (funding.funding_state(1)[1] + 2) * INTERVAL + 1
            oracle.set_price(1, 2_000 * USDC, sender=admin)
            k = funding.funding_state(1)[1] + 1
            gas.append(funding.update_funding(1, k, 12_500_000, sender=operator).gas_used)
        print(f"gas_update_funding_first: {gas[0]}")
        print(f"gas_update_funding: {gas[-1]}")


if __name__ == "__main__":
    main()
