"""Stack samples merged into a call tree: a node per function along each sampled path, with the samples
that passed through it and the time they stand for. Only code locations are kept (function, file, line of
its ``def``): never a local variable, an argument or a frame's current line of data.

A sample stands for the time since the previous one, not for one interval: the sampler needs the GIL, which
a CPU-bound thread gives up only at the interpreter's switch interval, so work that computes is sampled less
often than work that waits; counting samples would understate it, timing them does not.

Bounded: past ``MAX_NODES`` distinct nodes a new path is counted in its deepest known ancestor (its
``truncated`` figure grows), so a profile's size does not grow with the work's duration.
"""

from __future__ import annotations

from types import CodeType, FrameType
from typing import Any

MAX_NODES = 2000

Location = tuple[str, str, int]  # function (qualified name), file, line of its def


def location(code: CodeType) -> Location:
    return (code.co_qualname, code.co_filename, code.co_firstlineno)


class Node:
    __slots__ = ("children", "location", "samples", "seconds")

    def __init__(self, where: Location) -> None:
        self.location = where
        self.samples = 0
        self.seconds = 0.0
        self.children: dict[Location, Node] = {}

    def as_dict(self) -> dict[str, Any]:
        """Children with the most time first, as the page shows them."""
        function, file, line = self.location
        children = sorted(self.children.values(), key=lambda child: -child.seconds)
        return {
            "function": function,
            "file": file,
            "line": line,
            "samples": self.samples,
            "seconds": round(self.seconds, 6),
            "children": [child.as_dict() for child in children],
        }


class CallTree:
    """The samples of one piece of work, rooted at the frame that started it (the request middleware's
    call, the processor's poll)."""

    def __init__(self, root: FrameType) -> None:
        self.root = Node(location(root.f_code))
        self.nodes = 1
        self.truncated = 0

    def add(self, leaf: FrameType, root: FrameType, seconds: float) -> bool:
        """Count one sample of the stack from ``root`` up to ``leaf``, standing for ``seconds``; False when
        ``root`` is not on it any more (the work has returned)."""
        path: list[CodeType] = []
        frame: FrameType | None = leaf
        while frame is not None and frame is not root:
            path.append(frame.f_code)
            frame = frame.f_back
        if frame is None:
            return False
        node = self.root
        node.samples += 1
        node.seconds += seconds
        for code in reversed(path):
            where = location(code)
            child = node.children.get(where)
            if child is None:
                if self.nodes >= MAX_NODES:
                    self.truncated += 1
                    break
                child = node.children[where] = Node(where)
                self.nodes += 1
            child.samples += 1
            child.seconds += seconds
            node = child
        return True
