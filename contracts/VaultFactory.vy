# pragma version ~=0.4.3
"""
@title MMX vault factory
@notice Creates market-maker vaults from a Vault blueprint (EIP-5202), keeps the
        registry and emits VaultCreated for the keeper to follow. The caller of
        create_vault becomes the vault's owner (leader). The factory admin sets the
        protocol unwind agent that vaults approve when a queued withdrawal forces an
        unwind. See docs/vaults.md.
"""

from snekmate.auth import ownable

import constants
from interfaces import IVault
from interfaces import IVaultFactory

implements: IVaultFactory

initializes: ownable

exports: (ownable.owner, ownable.transfer_ownership)


# ---------------------------------------------------------------- constants

# An owner's vaults forbid each other as counterparties; this bounds that list.
MAX_VAULTS_PER_OWNER: constant(uint256) = 32
DEFAULT_PROFIT_SHARE_BPS: constant(uint256) = 1_000
DEFAULT_MIN_OWNER_STAKE_BPS: constant(uint256) = 500
DEFAULT_LOCKUP: constant(uint256) = 86_400
DEFAULT_DRAWDOWN_LIMIT_BPS: constant(uint256) = 2_000


event VaultCreated:
    vault: indexed(address)
    owner: indexed(address)
    manager: indexed(address)
    index: uint256
    name: String[64]
    profit_share_bps: uint256
    min_owner_stake_bps: uint256
    lockup: uint256
    drawdown_limit_bps: uint256

event UnwindAgentSet:
    old_agent: indexed(address)
    new_agent: indexed(address)


vault_blueprint: public(immutable(address))
exchange: public(immutable(address))
asset: public(immutable(address))

unwind_agent: public(address)
vault_count: public(uint256)
vaults: public(HashMap[uint256, address])
is_vault: public(HashMap[address, bool])
owner_vaults: public(HashMap[address, DynArray[address, MAX_VAULTS_PER_OWNER]])


@deploy
def __init__(blueprint_: address, exchange_: address, asset_: address, unwind_agent_: address):
    """
    @notice Deploy the factory.
    @param blueprint_ The Vault blueprint (ERC-5202, deployed with `declare`).
    @param exchange_ The Exchange every vault is an account of.
    @param asset_ USDC.
    @param unwind_agent_ The protocol keeper's agent key approved on forced unwinds.
    """
    assert blueprint_ != empty(address), "factory: blueprint"
    assert exchange_ != empty(address), "factory: exchange"
    assert asset_ != empty(address), "factory: asset"
    ownable.__init__()
    vault_blueprint = blueprint_
    exchange = exchange_
    asset = asset_
    self.unwind_agent = unwind_agent_
    log UnwindAgentSet(old_agent=empty(address), new_agent=unwind_agent_)


@external
def create_vault(
    name: String[64],
    manager: address,
    profit_share_bps: uint256 = DEFAULT_PROFIT_SHARE_BPS,
    min_owner_stake_bps: uint256 = DEFAULT_MIN_OWNER_STAKE_BPS,
    lockup: uint256 = DEFAULT_LOCKUP,
    drawdown_limit_bps: uint256 = DEFAULT_DRAWDOWN_LIMIT_BPS,
) -> address:
    """
    @notice Create a vault owned by the caller.
    @param name Display name (non-empty).
    @param manager Trades the vault through an agent key.
    @param profit_share_bps Manager's share of each depositor's profit (<= 10000, default 1000).
    @param min_owner_stake_bps Owner's minimum share of the vault (<= 10000, default 500).
    @param lockup Seconds after each deposit before withdrawal (<= 30 days, default 1 day).
    @param drawdown_limit_bps Drawdown that halts trading (1..10000, default 2000).
    @return The new vault's address.
    """
    assert len(name) > 0, "factory: name"
    assert manager != empty(address), "factory: manager"
    assert profit_share_bps <= constants.BPS, "factory: profit share"
    assert min_owner_stake_bps <= constants.BPS, "factory: min stake"
    assert lockup <= constants.MAX_LOCKUP, "factory: lockup"
    assert drawdown_limit_bps > 0 and drawdown_limit_bps <= constants.BPS, "factory: drawdown limit"
    assert len(self.owner_vaults[msg.sender]) < MAX_VAULTS_PER_OWNER, "factory: owner vaults"
    vault: address = create_from_blueprint(
        vault_blueprint,
        exchange,
        asset,
        msg.sender,
        manager,
        name,
        profit_share_bps,
        min_owner_stake_bps,
        lockup,
        drawdown_limit_bps,
    )
    index: uint256 = self.vault_count
    self.vaults[index] = vault
    self.vault_count = index + 1
    self.is_vault[vault] = True
    # an owner's vaults never trade against each other (a leader cannot move one
    # vault's followers' money into another he holds more of)
    for sibling: address in self.owner_vaults[msg.sender]:
        extcall IVault(vault).forbid_counterparty(sibling)
        extcall IVault(sibling).forbid_counterparty(vault)
    self.owner_vaults[msg.sender].append(vault)
    log VaultCreated(
        vault=vault,
        owner=msg.sender,
        manager=manager,
        index=index,
        name=name,
        profit_share_bps=profit_share_bps,
        min_owner_stake_bps=min_owner_stake_bps,
        lockup=lockup,
        drawdown_limit_bps=drawdown_limit_bps,
    )
    return vault


@external
def set_unwind_agent(agent: address):
    """
    @notice Factory owner sets the protocol keeper's agent key that vaults approve
            when an unwind starts.
    @param agent The key (empty: none).
    """
    ownable._check_owner()
    old: address = self.unwind_agent
    self.unwind_agent = agent
    log UnwindAgentSet(old_agent=old, new_agent=agent)


@external
@view
def owner_vault_count(owner: address) -> uint256:
    """
    @notice Number of vaults `owner` created (see owner_vaults(owner, i)).
    @param owner The leader.
    @return The count.
    """
    return len(self.owner_vaults[owner])
