def reachable(start, goal):
    """Is goal reachable from start by following successors?"""
    seen = set()
    stack = [start]
    while stack:
        node = stack.pop()
        if node is goal:
            return True
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(node.successors[:1])
    return False
