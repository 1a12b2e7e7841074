"""Analytics from chain on a real anvil: settled fills (fees, rebates), marks, pool / vault
NAV -> analyze; the API router; render_report's table and charts."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web3 import Web3

from offchain.analytics.collect import collect, render_report
from offchain.artifacts import abi
from offchain.deploy import Web3Deployer
from offchain.devnet import Anvil
from offchain.keeper.analytics_api import analytics_router
from offchain.keeper.devstack import deploy_stack
from offchain.order import POST_ONLY, Domain, Order, address_of, sign_order
from tests.constants import USDC

pytestmark = pytest.mark.e2e

ETH = 10**18
PRICE = 2_000 * USDC


@pytest.fixture(scope="module")
def settled_chain():
    with Anvil(accounts=10) as node:
        keys = node.private_keys()
        s = deploy_stack(node.url, keys, traders=2)  # traders: keys 4, 5
        d = s.deployment
        w3 = Web3(Web3.HTTPProvider(node.url))
        admin = Web3Deployer(w3, keys[0])
        # LP funds the pool; owner (7) opens a vault managed by 8 and deposits
        lp = Web3Deployer(w3, keys[6])
        admin.transact("TestUSDC", d.usdc, "mint", lp.address, 100_000 * USDC)
        lp.transact("TestUSDC", d.usdc, "approve", d.pool, 100_000 * USDC)
        pool = w3.eth.contract(address=d.pool, abi=abi("LiquidityPool"))
        lp.send_call(pool.get_function_by_signature("deposit(uint256)")(100_000 * USDC))
        owner, manager = Web3Deployer(w3, keys[7]), Web3Deployer(w3, keys[8])
        owner.transact("VaultFactory", d.vault_factory, "create_vault", "Alpha", manager.address)
        factory = w3.eth.contract(address=d.vault_factory, abi=abi("VaultFactory"))
        vault = factory.functions.vaults(0).call()
        admin.transact("TestUSDC", d.usdc, "mint", owner.address, 50_000 * USDC)
        owner.transact("TestUSDC", d.usdc, "approve", vault, 50_000 * USDC)
        owner.transact("Vault", vault, "deposit", 50_000 * USDC)

        domain = Domain(d.chain_id, d.exchange)
        expiry = int(time.time()) + 3600
        nonce = iter(range(1, 1000))

        def signed(account, signer_key, is_buy, price, size, flags=0):
            o = Order(account, 1, is_buy, price, size, next(nonce), expiry, flags)
            return o, sign_order(o, domain, signer_key)

        def fill(maker, taker, size):
            return (maker[0].as_tuple(), maker[1].as_tuple(), taker[0].as_tuple(), taker[1].as_tuple(), size)

        t1, t2 = address_of(keys[4]), address_of(keys[5])
        operator = Web3Deployer(w3, keys[1])
        fills = [
            # pool (keeper agent 3) bids 1 ETH at 1990, trader 1 sells into it
            fill(signed(d.pool, keys[3], True, 1_990 * USDC, ETH, POST_ONLY), signed(t1, keys[4], False, 1_990 * USDC, ETH), ETH),
            # vault (manager 8) offers 0.5 ETH at 2010, trader 2 lifts it
            fill(signed(vault, keys[8], False, 2_010 * USDC, ETH // 2, POST_ONLY), signed(t2, keys[5], True, 2_010 * USDC, ETH // 2), ETH // 2),
        ]
        operator.transact("Exchange", d.exchange, "settle", fills)
        admin.transact("Oracle", d.oracle, "set_price", 1, 2_020 * USDC)
        # pool sells half back at 2020 to trader 2: a realised round trip for the pool
        operator.transact("Exchange", d.exchange, "settle", [
            fill(signed(d.pool, keys[3], False, 2_020 * USDC, ETH // 2, POST_ONLY),
                 signed(t2, keys[5], True, 2_020 * USDC, ETH // 2), ETH // 2)])
        yield w3, d, vault, t1, t2


def test_collect__account__taker_fills_fees_and_marks(settled_chain):
    w3, d, _, t1, _ = settled_chain
    data = collect(w3, d, t1, "account")
    [f] = data.fills
    assert (f.market, f.is_buy, f.price, f.size, f.is_maker) == (1, False, 1_990 * USDC, ETH, False)
    assert f.fee == -(-1_990 * USDC * 5 // 10_000) and f.rebate == 0  # tier 0: 5 bps taker, rounded up
    assert [m.price for m in data.marks][-1] == 2_020 * USDC
    assert data.initial_equity == 10_000_000 * USDC and data.nav == ()


def test_collect__pool__maker_rebates_nav_and_round_trip(settled_chain):
    w3, d, _, _, _ = settled_chain
    data = collect(w3, d, "", "pool")
    assert [(f.is_buy, f.price, f.size, f.is_maker) for f in data.fills] == [
        (True, 1_990 * USDC, ETH, True), (False, 2_020 * USDC, ETH // 2, True)]
    assert all(f.rebate == 1_990 * USDC * 1 // 10_000 for f in data.fills[:1])
    assert data.nav and data.nav[-1].total_supply > 10**6
    from offchain.analytics import analyze

    report = analyze(data.fills, data.marks, entity=data.entity, kind="pool", initial_equity=data.initial_equity,
                     nav=data.nav)
    assert report.realised_pnl == 15 * USDC  # 0.5 ETH bought at 1990, sold at 2020
    assert report.positions == {1: ETH // 2} and report.round_trips == 1


def test_analytics_api__routes__pool_vault_account(settled_chain):
    w3, d, vault, t1, _ = settled_chain
    app = FastAPI()
    app.include_router(analytics_router(w3, d))
    client = TestClient(app)
    pool = client.get("/analytics/pool").json()
    assert pool["kind"] == "pool" and pool["maker_volume"] > 0 and "series" not in pool
    v = client.get(f"/analytics/vault/{vault}", params={"series": True}).json()
    assert v["kind"] == "vault" and v["positions"] == {"1": -(ETH // 2)} and v["series"]
    a = client.get(f"/analytics/{t1}").json()
    assert a["kind"] == "account" and a["taker_volume"] == 1_990 * USDC
    assert client.get("/analytics/vault/" + t1).status_code == 404
    assert client.get("/analytics/nonsense").status_code == 400


def test_render_report__pool_vaults_accounts__table_and_charts(settled_chain, tmp_path):
    w3, d, vault, t1, t2 = settled_chain
    text = render_report(w3, d, [t1, t2], tmp_path)
    assert d.pool in text and vault in text and t1 in text
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(pngs) == 4 * 3 and "pool_equity.png" in pngs


def test_market_trades__named_participants(settled_chain):
    from offchain.analytics.chain_report import participant_names
    from offchain.analytics.collect import market_trades

    w3, d, vault, t1, t2 = settled_chain
    names = participant_names(w3, d)
    assert names == {Web3.to_checksum_address(d.pool): "pool", Web3.to_checksum_address(vault): "vault"}
    trades = market_trades(w3, d, names)[1]
    assert [(t.maker, t.taker, t.maker_is_buy, t.price, t.size) for t in trades] == [
        ("pool", "others", True, 1_990 * USDC, ETH), ("vault", "others", False, 2_010 * USDC, ETH // 2),
        ("pool", "others", False, 2_020 * USDC, ETH // 2)]


def test_holders__pool_lp_and_vault_owner__pnl_since_entry(settled_chain):
    from offchain.analytics.collect import holders, oracle_marks, _Reader, Addresses
    from offchain.analytics.holders import share_value

    w3, d, vault, _, _ = settled_chain
    marks = [m for m in oracle_marks(_Reader(w3, Addresses.of(d))) if m.market == 1]
    pool = w3.eth.contract(address=d.pool, abi=abi("LiquidityPool"))
    [lp] = holders(w3, d.pool, "pool", marks).values()
    assert lp.deposited == 100_000 * USDC and lp.withdrawn == 0
    assert lp.value == share_value(lp.shares, pool.functions.totalAssets().call(), pool.functions.totalSupply().call())
    assert lp.pnl == lp.value - 100_000 * USDC and lp.vs_usdc == lp.pnl
    # 100k USDC of base bought at the first mark, valued at the last
    first, last = marks[0].price, marks[-1].price
    assert lp.hold_base_value == 100_000 * USDC * ETH // first * last // ETH
    [owner] = holders(w3, vault, "vault").values()
    assert owner.deposited == 50_000 * USDC and owner.fees_paid == 0 and owner.vs_base is None


def test_chain_sections__every_section_and_summary(settled_chain):
    from offchain.analytics.chain_report import SUMMARY_HEADER, chain_sections
    from offchain.analytics.html import HtmlReport

    w3, d, vault, t1, t2 = settled_chain
    sections, summary = chain_sections(w3, d, {"trader 1": t1, "trader 2": t2})
    titles = [s.title for s in sections]
    assert titles[0] == "Market quality: market 1"
    assert [t.split(" (")[0] for t in titles[1:5]] == ["pool", "vault", "trader 1", "trader 2"]
    assert titles[-2:] == ["LPs and followers", "Funding"]
    assert [row[0] for row in summary] == ["pool", "vault", "trader 1", "trader 2"]
    assert all(len(row) == len(SUMMARY_HEADER) for row in summary)
    assert summary[0][4] == "n/a (fewer than 30 periods)"  # a few blocks of data: no annualised ratio
    report = HtmlReport("t")
    for s in sections:
        report.add(s)
    assert report.render().count("data:image/png;base64,") == 3 + 4 * 3


def test_fee_income__pool_share_of_taker_fees(settled_chain):
    from offchain.analytics.collect import fee_income

    w3, d, _, t1, _ = settled_chain
    exchange = w3.eth.contract(address=d.exchange, abi=abi("Exchange"))
    accrued, share = exchange.functions.fees_accrued().call(), exchange.functions.fee_share_bps().call()
    paid = sum(e["args"]["recipient_amount"] for e in exchange.events.FeesDistributed().get_logs(from_block=0)
               if e["args"]["recipient"] == d.pool)
    assert accrued > 0  # taker fees net of rebates, not distributed yet
    assert fee_income(w3, d, d.pool) == paid + accrued * share // 10_000
    assert fee_income(w3, d, t1) == 0
