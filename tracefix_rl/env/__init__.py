"""The in-process environment and the pieces it is built from."""

from tracefix_rl.env._core import Recorder, StepRecord, TraceFixEnvironment, observation_hash

__all__ = ["Recorder", "StepRecord", "TraceFixEnvironment", "observation_hash"]
