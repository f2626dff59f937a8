"""The five worked examples of spec section 15, transcribed verbatim as test data.

Examples 3-5 exercise the exception rules that the spec marks unverified against CWM.
"""

EXAMPLES = {
    1: {
        "title": 'loop (main-wrapper layout)',
        "program": 'def f(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n',
        "call": 'f(3)',
        "context": 'def f(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\ndef main():  # << START_OF_TRACE\n    return f(3)\n',
        "prompt": '<|begin_of_text|><|trace_context_start|>def f(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\ndef main():  # << START_OF_TRACE\n    return f(3)\n<|frame_sep|><|call_sep|>{}<|action_sep|>def main():\n<|frame_sep|>',
        "trace": (
            '<|line_sep|>{}<|action_sep|>    return f(3)\n<|frame_sep|>'
            '<|call_sep|>{"n": "3"}<|action_sep|>def f(n):\n<|frame_sep|>'
            '<|line_sep|>{"n": ".."}<|action_sep|>    total = 0\n<|frame_sep|>'
            '<|line_sep|>{"n": "..", "total": "0"}<|action_sep|>    for i in range(n):\n<|frame_sep|>'
            '<|line_sep|>{"n": "..", "total": "..", "i": "0"}<|action_sep|>        total += i\n<|frame_sep|>'
            '<|line_sep|>{"n": "..", "total": "..", "i": ".."}<|action_sep|>    for i in range(n):\n<|frame_sep|>'
            '<|line_sep|>{"n": "..", "total": "..", "i": "1"}<|action_sep|>        total += i\n<|frame_sep|>'
            '<|line_sep|>{"n": "..", "total": "1", "i": ".."}<|action_sep|>    for i in range(n):\n<|frame_sep|>'
            '<|line_sep|>{"n": "..", "total": "..", "i": "2"}<|action_sep|>        total += i\n<|frame_sep|>'
            '<|line_sep|>{"n": "..", "total": "3", "i": ".."}<|action_sep|>    for i in range(n):\n<|frame_sep|>'
            '<|line_sep|>{"n": "..", "total": "..", "i": ".."}<|action_sep|>    return total\n<|frame_sep|>'
            '<|return_sep|><|action_sep|>    return total\n<|arg_sep|>"3"<|frame_sep|>'
            '<|return_sep|><|action_sep|>    return f(3)\n<|arg_sep|>"3"<|frame_sep|>'
            '<|end_of_text|>'
        ),
    },
    2: {
        "title": 'callee inside a list comprehension',
        "program": 'def square(x):\n    return x * x\n\ndef f(xs):\n    ys = [square(x) for x in xs]\n    total = sum(ys)\n    return total\n',
        "call": 'f([1, 2])',
        "context": 'def square(x):\n    return x * x\n\ndef f(xs):\n    ys = [square(x) for x in xs]\n    total = sum(ys)\n    return total\ndef main():  # << START_OF_TRACE\n    return f([1, 2])\n',
        "prompt": None,
        "trace": (
            '<|line_sep|>{}<|action_sep|>    return f([1, 2])\n<|frame_sep|>'
            '<|call_sep|>{"xs": "[1, 2]"}<|action_sep|>def f(xs):\n<|frame_sep|>'
            '<|line_sep|>{"xs": ".."}<|action_sep|>    ys = [square(x) for x in xs]\n<|frame_sep|>'
            '<|call_sep|>{".0": "<list_iterator object>"}<|action_sep|>    ys = [square(x) for x in xs]\n<|frame_sep|>'
            '<|line_sep|>{".0": ".."}<|action_sep|>    ys = [square(x) for x in xs]\n<|frame_sep|>'
            '<|call_sep|>{"x": "1"}<|action_sep|>def square(x):\n<|frame_sep|>'
            '<|line_sep|>{"x": ".."}<|action_sep|>    return x * x\n<|frame_sep|>'
            '<|return_sep|><|action_sep|>    return x * x\n<|arg_sep|>"1"<|frame_sep|>'
            '<|line_sep|>{".0": "<list_iterator object>", "x": "1"}<|action_sep|>    ys = [square(x) for x in xs]\n<|frame_sep|>'
            '<|call_sep|>{"x": "2"}<|action_sep|>def square(x):\n<|frame_sep|>'
            '<|line_sep|>{"x": ".."}<|action_sep|>    return x * x\n<|frame_sep|>'
            '<|return_sep|><|action_sep|>    return x * x\n<|arg_sep|>"4"<|frame_sep|>'
            '<|line_sep|>{".0": "<list_iterator object>", "x": "2"}<|action_sep|>    ys = [square(x) for x in xs]\n<|frame_sep|>'
            '<|return_sep|><|action_sep|>    ys = [square(x) for x in xs]\n<|arg_sep|>"[1, 4]"<|frame_sep|>'
            '<|line_sep|>{"xs": "[1, 2]", "ys": "[1, 4]"}<|action_sep|>    total = sum(ys)\n<|frame_sep|>'
            '<|line_sep|>{"xs": "..", "ys": "..", "total": "5"}<|action_sep|>    return total\n<|frame_sep|>'
            '<|return_sep|><|action_sep|>    return total\n<|arg_sep|>"5"<|frame_sep|>'
            '<|return_sep|><|action_sep|>    return f([1, 2])\n<|arg_sep|>"5"<|frame_sep|>'
            '<|end_of_text|>'
        ),
    },
    3: {
        "title": 'caught exception in the same frame (exception VALUE and `..` after it [U])',
        "program": 'def f(s):\n    try:\n        n = int(s)\n    except ValueError:\n        n = -1\n    return n\n',
        "call": "f('x')",
        "context": "def f(s):\n    try:\n        n = int(s)\n    except ValueError:\n        n = -1\n    return n\ndef main():  # << START_OF_TRACE\n    return f('x')\n",
        "prompt": None,
        "trace": (
            "<|line_sep|>{}<|action_sep|>    return f('x')\n<|frame_sep|>"
            '<|call_sep|>{"s": "\'x\'"}<|action_sep|>def f(s):\n<|frame_sep|>'
            '<|line_sep|>{"s": ".."}<|action_sep|>    try:\n<|frame_sep|>'
            '<|line_sep|>{"s": ".."}<|action_sep|>        n = int(s)\n<|frame_sep|>'
            '<|exception_sep|><|action_sep|>        n = int(s)\n<|arg_sep|>"ValueError(\\"invalid literal for int() with base 10: \'x\'\\")"<|frame_sep|>'
            '<|line_sep|>{"s": ".."}<|action_sep|>    except ValueError:\n<|frame_sep|>'
            '<|line_sep|>{"s": ".."}<|action_sep|>        n = -1\n<|frame_sep|>'
            '<|line_sep|>{"s": "..", "n": "-1"}<|action_sep|>    return n\n<|frame_sep|>'
            '<|return_sep|><|action_sep|>    return n\n<|arg_sep|>"-1"<|frame_sep|>'
            "<|return_sep|><|action_sep|>    return f('x')\n<|arg_sep|>\"-1\"<|frame_sep|>"
            '<|end_of_text|>'
        ),
    },
    4: {
        "title": 'generator expression with resumes (resume rules [C])',
        "program": "def f(s):\n    return sum(1 for c in s if c == 'a')\n",
        "call": "f('ab')",
        "context": "def f(s):\n    return sum(1 for c in s if c == 'a')\ndef main():  # << START_OF_TRACE\n    return f('ab')\n",
        "prompt": None,
        "trace": (
            "<|line_sep|>{}<|action_sep|>    return f('ab')\n<|frame_sep|>"
            '<|call_sep|>{"s": "\'ab\'"}<|action_sep|>def f(s):\n<|frame_sep|>'
            '<|line_sep|>{"s": ".."}<|action_sep|>    return sum(1 for c in s if c == \'a\')\n<|frame_sep|>'
            '<|call_sep|>{".0": "<str_ascii_iterator object>"}<|action_sep|>    return sum(1 for c in s if c == \'a\')\n<|frame_sep|>'
            '<|line_sep|>{".0": ".."}<|action_sep|>    return sum(1 for c in s if c == \'a\')\n<|frame_sep|>'
            '<|return_sep|><|action_sep|>    return sum(1 for c in s if c == \'a\')\n<|arg_sep|>"1"<|frame_sep|>'
            '<|call_sep|>{".0": "<str_ascii_iterator object>", "c": "\'a\'"}<|action_sep|>    return sum(1 for c in s if c == \'a\')\n<|frame_sep|>'
            '<|line_sep|>{".0": "..", "c": ".."}<|action_sep|>    return sum(1 for c in s if c == \'a\')\n<|frame_sep|>'
            '<|line_sep|>{".0": "..", "c": "\'b\'"}<|action_sep|>    return sum(1 for c in s if c == \'a\')\n<|frame_sep|>'
            '<|return_sep|><|action_sep|>    return sum(1 for c in s if c == \'a\')\n<|arg_sep|>"None"<|frame_sep|>'
            '<|return_sep|><|action_sep|>    return sum(1 for c in s if c == \'a\')\n<|arg_sep|>"1"<|frame_sep|>'
            "<|return_sep|><|action_sep|>    return f('ab')\n<|arg_sep|>\"1\"<|frame_sep|>"
            '<|end_of_text|>'
        ),
    },
    5: {
        "title": 'exception raised in a callee (entirely [U] beyond the event order)',
        "program": 'def g(x):\n    return 10 // x\ndef f(x):\n    try:\n        return g(x)\n    except ZeroDivisionError:\n        return -1\n',
        "call": 'f(0)',
        "context": 'def g(x):\n    return 10 // x\ndef f(x):\n    try:\n        return g(x)\n    except ZeroDivisionError:\n        return -1\ndef main():  # << START_OF_TRACE\n    return f(0)\n',
        "prompt": None,
        "trace": (
            '<|line_sep|>{}<|action_sep|>    return f(0)\n<|frame_sep|>'
            '<|call_sep|>{"x": "0"}<|action_sep|>def f(x):\n<|frame_sep|>'
            '<|line_sep|>{"x": ".."}<|action_sep|>    try:\n<|frame_sep|>'
            '<|line_sep|>{"x": ".."}<|action_sep|>        return g(x)\n<|frame_sep|>'
            '<|call_sep|>{"x": "0"}<|action_sep|>def g(x):\n<|frame_sep|>'
            '<|line_sep|>{"x": ".."}<|action_sep|>    return 10 // x\n<|frame_sep|>'
            '<|exception_sep|><|action_sep|>    return 10 // x\n<|arg_sep|>"ZeroDivisionError(\'integer division or modulo by zero\')"<|frame_sep|>'
            '<|return_sep|><|action_sep|>    return 10 // x\n<|arg_sep|>"None"<|frame_sep|>'
            '<|exception_sep|><|action_sep|>        return g(x)\n<|arg_sep|>"ZeroDivisionError(\'integer division or modulo by zero\')"<|frame_sep|>'
            '<|line_sep|>{"x": "0"}<|action_sep|>    except ZeroDivisionError:\n<|frame_sep|>'
            '<|line_sep|>{"x": ".."}<|action_sep|>        return -1\n<|frame_sep|>'
            '<|return_sep|><|action_sep|>        return -1\n<|arg_sep|>"-1"<|frame_sep|>'
            '<|return_sep|><|action_sep|>    return f(0)\n<|arg_sep|>"-1"<|frame_sep|>'
            '<|end_of_text|>'
        ),
    },
}
