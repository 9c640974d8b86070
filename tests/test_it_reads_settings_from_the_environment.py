"""The environment helpers of console/config.py: a value outside what a setting takes stops
the start with a message naming the variable, never a failure later at request time."""

from __future__ import annotations

import pytest

from console.config import env_bool, env_choice, env_int


def test_a_choice_is_one_of_its_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("X_POLICY", raising=False)
    assert env_choice("X_POLICY", "keep", ("keep", "replace")) == "keep"
    monkeypatch.setenv("X_POLICY", " replace ")
    assert env_choice("X_POLICY", "keep", ("keep", "replace")) == "replace"
    monkeypatch.setenv("X_POLICY", "overwrite")
    with pytest.raises(ValueError, match="X_POLICY='overwrite' is not one of keep, replace"):
        env_choice("X_POLICY", "keep", ("keep", "replace"))


def test_numbers_and_booleans_say_which_variable_is_wrong(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_SIZE", "12")
    assert env_int("X_SIZE", 1) == 12
    monkeypatch.setenv("X_SIZE", "12 GB")
    with pytest.raises(ValueError, match="X_SIZE='12 GB' is not an integer"):
        env_int("X_SIZE", 1)
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ValueError, match="X_FLAG='maybe' is not a boolean"):
        env_bool("X_FLAG")
