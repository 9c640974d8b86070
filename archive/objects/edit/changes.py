"""What an edit asks (``AttributeChange``), what it did (``AppliedChange``) and the one
refusal every step raises (``EditRefused``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from archive.objects.edit.paths import AttributePath, BadAttributePath, parse_path


class EditRefused(ValueError):
    """An edit that cannot be made, with the reason for a person (naming the line or the
    attribute). Nothing has been written when it is raised."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class EditAction(StrEnum):
    """dcmodify's actions: -m, -i, -e, -ma, -ea, -ep."""

    MODIFY = "modify"  # the attribute must exist
    INSERT = "insert"  # created (with missing sequences and items) or overwritten
    REMOVE = "remove"  # removing a missing attribute is reported, not refused
    MODIFY_ALL = "modify_all"  # every element with this tag, at any depth
    REMOVE_ALL = "remove_all"  # every element with this tag, at any depth
    REMOVE_PRIVATE = "remove_private"  # every private element (no path)

    @property
    def sets_value(self) -> bool:
        return self in (EditAction.MODIFY, EditAction.INSERT, EditAction.MODIFY_ALL)

    @property
    def dcmodify_option(self) -> str:
        return {"modify": "-m", "insert": "-i", "remove": "-e", "modify_all": "-ma",
                "remove_all": "-ea", "remove_private": "-ep"}[self.value]


@dataclass(frozen=True)
class AttributeChange:
    """One requested edit. ``value`` is text as dcmodify takes it (several values
    separated by backslashes; binary values as hex bytes ``01\\ff``); None or "" is an
    empty value. ``vr`` is needed only where the dictionary does not know the element
    (private elements of an unknown creator) or to override it."""

    path: AttributePath | str | None
    action: EditAction = EditAction.INSERT
    value: str | None = None
    vr: str | None = None

    @property
    def attribute_path(self) -> AttributePath | None:
        if self.path is None or isinstance(self.path, AttributePath):
            return self.path
        try:
            return parse_path(self.path)
        except BadAttributePath as exc:
            raise EditRefused(str(exc)) from exc

    def describe(self) -> str:
        target = str(self.attribute_path) if self.path is not None else "all private elements"
        if self.action.sets_value:
            return f"{self.action.value} {target}={self.value or ''}"
        return f"{self.action.value} {target}"


@dataclass(frozen=True)
class AppliedChange:
    """One attribute that changed: its concrete path (canonical syntax, item numbers
    resolved), tag "(gggg,eeee)", keyword ("" for private), the action, and the value
    before and after as dcmdump shows it, None where the attribute is absent. A removal
    of an attribute that was not there is recorded with both None (``not_present``)."""

    path: str
    tag: str
    keyword: str
    action: EditAction
    old: str | None
    new: str | None

    @property
    def not_present(self) -> bool:
        return self.old is None and self.new is None

    def describe(self) -> str:
        if self.not_present:
            return f"{self.path}: not present"
        return f"{self.path}: {self.old or '(absent)'} → {self.new or '(removed)'}"
