"""supportkit.lazy.cached_property: computed on first access only, kept on the instance, frozen dataclasses too."""

from __future__ import annotations

from dataclasses import dataclass, field

from supportkit.lazy import cached_property


@dataclass(frozen=True)
class Counted:
    value: int
    calls: list[int] = field(default_factory=list, compare=False)

    @cached_property
    def doubled(self) -> int:
        """Twice the value."""
        self.calls.append(self.value)
        return 2 * self.value


def test_the_value_is_computed_once_per_instance_and_stored_on_it() -> None:
    first, second = Counted(3), Counted(5)
    assert (first.doubled, first.doubled, second.doubled) == (6, 6, 10)
    assert first.calls == [3] and second.calls == [5]
    assert first.__dict__["doubled"] == 6


def test_the_class_attribute_is_the_descriptor_with_the_method_doc() -> None:
    descriptor = Counted.__dict__["doubled"]
    assert Counted.doubled is descriptor
    assert descriptor.__doc__ == "Twice the value."
