"""Counting the engine's work in steps (Python lines run in app/), not in seconds.

A clock reading says how busy the machine was as much as how much work the code did; a
line count is the same on every run and every machine. The fuzz script and the tests that
guard against slow (quadratic, unbounded) behaviour use it: they bound the steps of one
call, or check that doubling the input at most about doubles them.

Work done inside C (str.find, a compiled regex) is one step per line that calls it, so the
tests that guard such code also bound the spans it is given (tests/test_lookups_bad.py).
"""

import os
import sys

APP_FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "app") + os.sep


class StepBudgetExceeded(BaseException):
    """Raised inside the counted call when it runs past its budget.

    A BaseException, like KeyboardInterrupt, so the engine's own `except Exception` guards
    (which keep one bad event from ending a search) do not swallow it."""

    def __init__(self, budget):
        super().__init__("ran past its budget of %d steps in app/" % budget)
        self.budget = budget


def count_steps(function, *args, budget=None, folder=APP_FOLDER, **kwargs):
    """(result, steps): calls function, counting the lines it runs in code under `folder`.

    With a budget, a call that runs more steps than that is stopped with StepBudgetExceeded,
    so a case that would hang ends as a failure instead."""
    steps = [0]

    def count_line(frame, event, arg):
        if event == "line":
            steps[0] += 1
            if budget is not None and steps[0] > budget:
                raise StepBudgetExceeded(budget)
        return count_line

    def on_call(frame, event, arg):
        # Lines are counted only in frames of code under `folder`; everything else runs untraced.
        if frame.f_code.co_filename.startswith(folder):
            return count_line
        return None

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        result = function(*args, **kwargs)
    finally:
        sys.settrace(previous)
    return result, steps[0]


def build_parser():
    """--help only: this module is imported by other tools and has no command line of its own."""
    import argparse

    return argparse.ArgumentParser(prog="tools/step_count.py", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter, epilog="A module, not a command: from tools.step_count import count_steps; result, steps = count_steps(function, *args, budget=N).")


if __name__ == "__main__":
    build_parser().parse_args()
    build_parser().print_help()  # nothing to run: what the module is for is the answer
