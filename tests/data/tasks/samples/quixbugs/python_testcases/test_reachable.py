import pytest

from .node import Node

if pytest.use_correct:
    from correct_python_programs.reachable import reachable
else:
    from python_programs.reachable import reachable


def make_diamond():
    d = Node("d")
    b = Node("b", [d])
    c = Node("c")
    a = Node("a", [c, b])
    return a, d


def test_direct():
    goal = Node("g")
    start = Node("s", [goal])
    assert reachable(start, goal)


def test_second_branch():
    a, d = make_diamond()
    assert reachable(a, d)


def test_unreachable():
    a, _ = make_diamond()
    assert not reachable(a, Node("z"))


@pytest.mark.timeout(5)
def test_cycle():
    x = Node("x")
    y = Node("y", [x])
    x.successors = [y, Node("w")]
    assert not reachable(x, Node("q"))


def test_last_of_three_branches():
    goal = Node("g")
    start = Node("s", [Node("x"), Node("y"), Node("m", [goal])])
    assert reachable(start, goal)
