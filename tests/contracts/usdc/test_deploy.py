def test_deploy__metadata(usdc, admin):
    assert usdc.decimals() == 6
    assert usdc.symbol() == "USDC"
    assert usdc.name() == "USD Coin (test)"
    assert usdc.totalSupply() == 0
    assert usdc.owner() == admin
    assert usdc.is_minter(admin)
    assert usdc.faucet_open()
    assert usdc.FAUCET_MAX() == 1_000_000 * 10**6


def test_deploy__events(create_usdc, admin):
    usdc = create_usdc()
    receipt = usdc.creation_metadata.receipt
    assert receipt.events.filter(usdc.FaucetOpenSet) == [usdc.FaucetOpenSet(is_open=True)]
