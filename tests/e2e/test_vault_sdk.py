"""SDK vault and pool flows on a real anvil (offchain.client.vaults / .pool), error paths included.

Every refusal must raise TxError with the contract's reason and its sentence, and change
nothing (the SDK simulates before sending)."""

from __future__ import annotations

import pytest
from web3 import Web3

from offchain.client.pool import PoolClient
from offchain.client.vaults import Paid, Queued, VaultClient, VaultFactoryClient
from offchain.client.wallet import KeySigner, TxError, sentence, usdc_units
from offchain.devnet import Anvil
from offchain.keeper.devstack import deploy_stack
from tests.constants import DAY

from .vault_helpers import REDUCE_ONLY, fund_taker, settle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chain():
    with Anvil(accounts=8) as node:
        stack = deploy_stack(node.url, node.private_keys(), traders=0)
        yield Web3(Web3.HTTPProvider(node.url)), stack


def signer(chain, index):
    w3, stack = chain
    return KeySigner(w3, stack.keys[index])


def faucet(chain, index, amount):
    w3, stack = chain
    PoolClient.connect(w3, stack.deployment, signer(chain, index)).faucet(amount)


def advance(w3, seconds):
    w3.provider.make_request("evm_increaseTime", [seconds])
    w3.provider.make_request("evm_mine", [])


def refused(call, reason):
    with pytest.raises(TxError) as info:
        call()
    assert info.value.reason == reason
    assert str(info.value) == sentence(reason) or reason in ("", "vault: balance", "vault: no request")
    return str(info.value)


@pytest.fixture
def alpha_vault(chain):
    """A fresh vault per test: a module-scoped one would carry the deposits of whichever
    test ran before (pytest-xdist's worksteal runs a module's tests out of file order)."""
    w3, stack = chain
    leader = signer(chain, 4)
    factory = VaultFactoryClient.connect(w3, stack.deployment, leader)
    address = factory.create("Alpha grid", manager=leader.address, profit_share_bps=1000,
                             min_owner_stake_bps=500, lockup=DAY)
    for index in (4, 5):
        faucet(chain, index, usdc_units("100000"))
    return address


def test_factory_create__listed_with_its_terms(chain, alpha_vault):
    w3, stack = chain
    infos = VaultFactoryClient.connect(w3, stack.deployment).list()
    info = next(i for i in infos if i.address == alpha_vault)
    assert (info.name, info.owner, info.profit_share_bps, info.lockup) == ("Alpha grid", signer(chain, 4).address, 1000, DAY)
    assert info.total_assets == 0 and info.queue_length == 0 and info.strategy == "none"


def test_factory_create__bad_terms__readable_errors_and_no_vault(chain):
    w3, stack = chain
    factory = VaultFactoryClient.connect(w3, stack.deployment, signer(chain, 6))
    before = len(factory.addresses())
    refused(lambda: factory.create("", manager=signer(chain, 6).address), "factory: name")
    refused(lambda: factory.create("x", manager=signer(chain, 6).address, profit_share_bps=10_001),
            "factory: profit share")
    refused(lambda: factory.create("x", manager=signer(chain, 6).address, lockup=31 * DAY), "factory: lockup")
    assert len(factory.addresses()) == before


def test_vault_follower_before_leader__owner_stake_sentence_and_no_approval(chain):
    w3, stack = chain
    leader = signer(chain, 4)
    address = VaultFactoryClient.connect(w3, stack.deployment, leader).create("Empty", manager=leader.address)
    faucet(chain, 5, usdc_units("1000"))  # tests fund their own accounts: any order, any xdist worker
    follower = VaultClient(w3, address, stack.deployment.usdc, signer(chain, 5))
    message = refused(lambda: follower.deposit(usdc_units("100")), "vault: owner stake")
    assert "leader" in message
    assert follower.usdc.functions.allowance(follower.tx.address, address).call() == 0


def test_vault_flow__leader_then_follower_deposit_withdraw_paid(chain, alpha_vault):
    w3, stack = chain
    leader = VaultClient(w3, alpha_vault, stack.deployment.usdc, signer(chain, 4))
    follower = VaultClient(w3, alpha_vault, stack.deployment.usdc, signer(chain, 5))
    assert leader.deposit(usdc_units("1000")) > 0
    minted = follower.deposit(usdc_units("500"))
    holding = follower.holding(follower.tx.address)
    assert holding.shares == minted and holding.basis == usdc_units("500")
    assert holding.value == usdc_units("500") - 1 or holding.value == usdc_units("500")

    refused(lambda: follower.withdraw(), "vault: locked")
    refused(lambda: follower.withdraw(minted + 1), "vault: balance")
    refused(lambda: follower.deposit(0), "vault: zero assets")
    refused(lambda: follower.deposit(usdc_units("10000000")), "erc20: transfer amount exceeds balance")
    assert follower.holding(follower.tx.address).shares == minted

    advance(w3, DAY + 1)
    before = follower.usdc.functions.balanceOf(follower.tx.address).call()
    result = follower.withdraw()
    assert isinstance(result, Paid) and result.shares == minted and result.fee == 0
    assert follower.usdc.functions.balanceOf(follower.tx.address).call() - before == result.assets
    assert follower.holding(follower.tx.address).shares == 0
    refused(lambda: follower.withdraw(), "vault: balance")
    refused(lambda: follower.claim(), "vault: no request")
    refused(lambda: follower.claim(0), "vault: no request")


def test_vault_withdraw__cash_held_as_margin__queued_then_claimed(chain):
    """The vault's cash is margin behind an open position: the request queues, the
    follower sees its place in the queue, claiming early is refused, and once the position
    is closed (what the keeper does) the claim pays the value fixed at request time."""
    w3, stack = chain
    lead_signer = signer(chain, 4)
    address = VaultFactoryClient.connect(w3, stack.deployment, lead_signer).create(
        "Queue", manager=lead_signer.address, lockup=0)
    leader = VaultClient(w3, address, stack.deployment.usdc, lead_signer)
    follower = VaultClient(w3, address, stack.deployment.usdc, signer(chain, 6))
    for index in (4, 6):
        faucet(chain, index, usdc_units("2000"))
    leader.deposit(usdc_units("1000"))
    shares = follower.deposit(usdc_units("200"))
    taker = stack.keys[3]
    fund_taker(w3, stack, taker, usdc_units("50000"))
    settle(w3, stack, address, stack.keys[4], taker, True, 55 * 10**17)  # 11k notional, 1.1k margin

    queued = follower.withdraw()
    assert isinstance(queued, Queued) and queued.shares == shares
    (request,) = follower.requests(follower.tx.address)
    assert (request.request_id, request.ahead, request.shares) == (queued.request_id, 0, shares)
    refused(lambda: follower.claim(), "vault: insufficient liquidity")

    settle(w3, stack, address, stack.keys[4], taker, False, 55 * 10**17, flags=REDUCE_ONLY)
    paid = follower.claim()
    assert paid.shares == shares and paid.assets + paid.fee == queued.value  # the maker rebate is profit
    assert follower.requests(follower.tx.address) == ()


def test_pool_sdk__deposit_status_locked_redeem_after_lockup(chain):
    w3, stack = chain
    lp = PoolClient.connect(w3, stack.deployment, signer(chain, 7))
    lp.faucet(usdc_units("5000"))
    refused(lambda: lp.deposit(0), "pool: zero")
    refused(lambda: lp.deposit(usdc_units("6000")), "erc20: transfer amount exceeds balance")
    shares = lp.deposit(usdc_units("1234.5"))
    status = lp.status(lp.tx.address)
    assert status.shares == shares and status.value == usdc_units("1234.5") and status.withdrawable == 0
    assert status.lock_until > 0 and status.lockup == 4 * DAY
    refused(lambda: lp.redeem(shares), "pool: locked")
    with pytest.raises(TxError, match="nothing redeemable now"):
        lp.redeem()
    advance(w3, 4 * DAY + 1)
    got = lp.redeem(lp.status(lp.tx.address).redeemable)
    assert got > 0 and lp.status(lp.tx.address).wallet_usdc == usdc_units("5000") - usdc_units("1234.5") + got


def test_client__no_contract_at_address__says_which_network(chain):
    w3, _ = chain
    with pytest.raises(TxError, match="no Vault contract at"):
        VaultClient(w3, "0x" + "11" * 20, "")
