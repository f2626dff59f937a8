class Node:
    def __init__(self, value=None, successors=None):
        self.value = value
        self.successors = successors or []
