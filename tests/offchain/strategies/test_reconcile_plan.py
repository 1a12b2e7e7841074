from offchain.strategies import Amend, DesiredOrder, LiveOrder, reconcile

ETH = 10**18


def d(is_buy, price, size, reduce_only=False):
    return DesiredOrder(1, is_buy, price, size, True, reduce_only)


def lo(oid, is_buy, price, size):
    return LiveOrder(oid, 1, is_buy, price, size)


def test_reconcile__same_set__no_operations():
    live = [lo("a", True, 100, ETH), lo("b", False, 110, ETH)]
    assert reconcile(live, [d(True, 100, ETH), d(False, 110, ETH)]).empty


def test_reconcile__moved_quote__cancel_old_place_new_keep_unchanged():
    live = [lo("a", True, 100, ETH), lo("b", False, 110, ETH)]
    plan = reconcile(live, [d(True, 101, ETH), d(False, 110, ETH)])
    assert plan.cancels == ("a",) and plan.places == (d(True, 101, ETH),) and plan.amends == ()


def test_reconcile__smaller_desired__cancel_and_place_or_amend():
    live = [lo("a", True, 100, 2 * ETH)]
    plan = reconcile(live, [d(True, 100, ETH)])
    assert plan.cancels == ("a",) and plan.places == (d(True, 100, ETH),)
    assert reconcile(live, [d(True, 100, ETH)], allow_amend=True) == type(plan)((), (), (Amend("a", ETH),))


def test_reconcile__larger_desired__keep_queue_place_top_up():
    plan = reconcile([lo("a", True, 100, ETH)], [d(True, 100, 3 * ETH)])
    assert plan.cancels == () and plan.places == (d(True, 100, 2 * ETH),)


def test_reconcile__exact_single_match__others_cancelled():
    live = [lo("a", True, 100, ETH), lo("b", True, 100, 2 * ETH)]
    plan = reconcile(live, [d(True, 100, 2 * ETH)])
    assert plan.cancels == ("a",) and plan.places == ()


def test_reconcile__same_price_desired__merged_into_one_order():
    plan = reconcile([], [d(True, 100, ETH), d(True, 100, ETH)])
    assert plan.places == (d(True, 100, 2 * ETH),)


def test_reconcile__reduce_only_differs__not_the_same_order():
    plan = reconcile([lo("a", False, 110, ETH)], [d(False, 110, ETH, reduce_only=True)])
    assert plan.cancels == ("a",) and plan.places == (d(False, 110, ETH, reduce_only=True),)


def test_reconcile__top_up_below_min_size__whole_group_replaced():
    plan = reconcile([lo("a", True, 100, ETH)], [d(True, 100, ETH + 1)], min_size=10)
    assert plan.cancels == ("a",) and plan.places == (d(True, 100, ETH + 1),)


def test_reconcile__partial_remainder_below_min_size__kept_when_desired():
    plan = reconcile([lo("a", True, 100, 5)], [d(True, 100, 5)], min_size=10)
    assert plan.empty


def test_reconcile__empty_desired__cancel_all():
    plan = reconcile([lo("a", True, 100, ETH), lo("b", False, 110, ETH)], [])
    assert plan.cancels == ("a", "b") and plan.places == ()
