"""The walk over a data set that applies Table E.1-1's action codes at every depth."""

from __future__ import annotations

import copy
import re
from functools import cache
from typing import Any

from pydicom.datadict import get_entry
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from archive.deid.config import AttributeChange, DeidConfig, DeidRefused, SafePrivate
from archive.deid.dates import DateRefused, offset_days, shift_date, shift_datetime
from archive.deid.layout import PIXEL_TAGS
from archive.deid.phi import identifying_values, uid_values
from archive.deid.profile import ActionCode, ProfileOption, action_for, all_rules, rule_for
from archive.deid.uids import replacement_uid
from archive.objects.edit.type1 import required_at_top, required_in_item

PATIENT_NAME, PATIENT_ID = 0x00100010, 0x00100020
TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC"})
DUMMY_TEXT = "ANONYMIZED"
DUMMIES: dict[str, Any] = {
    "DA": "19000101", "TM": "000000", "DT": "19000101000000", "AS": "000Y", "DS": "0",
    "IS": "0", "US": 0, "SS": 0, "UL": 0, "SL": 0, "FL": 0.0, "FD": 0.0, "UV": 0, "SV": 0,
    "OB": b"\x00\x00", "OW": b"\x00\x00", "UN": b"\x00\x00", "UR": "", "AT": 0,
}
SHOWN_CHARS = 80
UNLISTED_TEXT = "not in Table E.1-1: kept"
BIRTH_DATE = "the patient's birth date: no option retains it"
OVERLAY_DATA = 0x60003000  # (60xx,3000), the group's low bit masked


def _snapshot(element: DataElement) -> DataElement:
    """The element as it is now: a sequence copied whole (its items change in place), any
    other element sharing its value (the walk assigns new values, never edits one)."""
    if element.VR == "SQ":
        return copy.deepcopy(element)
    return DataElement(element.tag, element.VR, element.value)


@cache
def kept_keywords(options: frozenset[ProfileOption]) -> frozenset[str]:
    """The attributes the chosen options keep as they are: their values may stay in the
    output, so they are not identifying values to look for afterwards."""
    return frozenset(rule.keyword for rule in all_rules()
                     if rule.keyword and action_for(rule, options)[0] == ActionCode.K)


class Walk:
    """One data set's walk; it collects the changes, and the original top-level attributes
    for the Encrypted Attributes Sequence."""

    def __init__(self, config: DeidConfig, top: Dataset) -> None:
        self.config = config
        self.options = config.options
        self.changes: list[AttributeChange] = []
        self.warnings: list[str] = []
        self.patient_id = str(top.get("PatientID", "") or "")
        self.patient_name = str(top.get("PatientName", "") or "")
        self.pseudonym = config.pseudonym_for(self.patient_id, self.patient_name)
        patient_key = self.patient_id.strip() or f"\x00{self.patient_name.strip()}"
        self.days = (offset_days(config.project_key, patient_key)
                     if ProfileOption.RETAIN_MODIFIED_DATES in self.options else None)
        # shifted dates must not be found afterwards: only full dates may stay
        retained_dates = ProfileOption.RETAIN_FULL_DATES in self.options
        self.phi = identifying_values(top, retained_dates=retained_dates,
                                      keep=kept_keywords(self.options))
        self.retained_uids = (uid_values(top) if ProfileOption.RETAIN_UIDS in self.options
                              else frozenset())
        self.birth_date = str(top.get("PatientBirthDate", "") or "").strip()
        self._removed_overlays: set[int] = set()
        texts = {value.text for value in self.phi}
        self._identifying = (re.compile("|".join(re.escape(t) for t in sorted(
            texts, key=len, reverse=True)), re.IGNORECASE) if texts else None)
        self._safe = {(s.creator.strip().upper(), s.group, s.element)
                      for s in config.safe_private}
        self._declared_blocks: set[tuple[str, int]] = set()
        if ProfileOption.RETAIN_SAFE_PRIVATE in self.options:
            self._read_declarations(top)

    # the data sets ---------------------------------------------------------------------------
    def top_level(self, ds: Dataset) -> Dataset:
        """Walk the top level; the original value of every attribute changed at any depth
        below it is kept (as its top-level attribute) for the reversible option."""
        keep_originals = self.config.certificate_pem is not None
        originals = Dataset()
        required = required_at_top(ds)
        keep_creators = self._safe_creators(ds)
        for tag in list(ds.keys()):
            if tag in PIXEL_TAGS:
                continue
            element = ds[tag]
            before = _snapshot(element) if keep_originals else None
            if self.element(ds, element, "", required, keep_creators) and before is not None:
                originals.add(before)
        removed_overlays = [copy.deepcopy(e) for e in ds if keep_originals
                            and e.tag >> 16 in self._removed_overlays]
        self.drop_orphaned_overlays(ds)
        for element in removed_overlays:
            originals.add(element)
        return originals

    def dataset(self, ds: Dataset, prefix: str) -> bool:
        required = required_in_item(ds)
        keep_creators = self._safe_creators(ds)
        changed = False
        for tag in list(ds.keys()):
            if tag not in PIXEL_TAGS:
                changed |= self.element(ds, ds[tag], prefix, required, keep_creators)
        return changed

    def items(self, element: DataElement, path: str) -> bool:
        changed = False
        for index, item in enumerate(element.value or []):
            changed |= self.dataset(item, f"{path}[{index}] > ")
        return changed

    # one element -----------------------------------------------------------------------------
    def element(self, container: Dataset, element: DataElement, prefix: str,
                required: dict[int, str], keep_creators: set[int]) -> bool:
        """Apply the element's rule; True when anything in it changed."""
        tag = int(element.tag)
        if element.tag.is_private:
            return self._private(container, element, prefix, keep_creators)
        if tag & 0xFFFF == 0:  # a group length: stale once anything changes
            return self.remove(container, element, prefix, ActionCode.X, "group length")
        rule = rule_for(tag)
        if rule is None:
            code, reason = self._unlisted(element, prefix)
            if code == ActionCode.K and (element.VR in TEXT_VRS or element.VR == "AE"):  # mask
                return self._clean_text(element, prefix, UNLISTED_TEXT)  # what identifies
        else:
            code, reason = action_for(rule, self.options)
            if code == ActionCode.U and ProfileOption.RETAIN_UIDS in self.options:
                code, reason = ActionCode.K, ProfileOption.RETAIN_UIDS.label  # PS3.15 E.3.9:
                # every UID, also those whose row in the source table lacks the column
        if tag in (PATIENT_NAME, PATIENT_ID) and code != ActionCode.K:
            return self._pseudonym(element, prefix)
        return self.apply(container, element, prefix, ActionCode(code), reason,
                          tag in required)

    def apply(self, container: Dataset, element: DataElement, prefix: str, code: ActionCode,
              reason: str, required: bool) -> bool:
        path = self.label(prefix, int(element.tag))
        if code == ActionCode.K:
            if element.VR == "DA" and self.birth_date and self._is_birth_date(element):
                return self.dummy(element, prefix, BIRTH_DATE)
            return element.VR == "SQ" and self.items(element, path)
        if code == ActionCode.X:
            return self.remove(container, element, prefix, code, reason)
        if code == ActionCode.Z:
            return self.empty(element, prefix, reason)
        if code == ActionCode.D:
            return self.dummy(element, prefix, reason)
        if code == ActionCode.C:
            return self.clean(element, prefix, reason)
        if code == ActionCode.U:
            return self.uid(element, prefix, reason)
        if code == ActionCode.X_Z_U:  # references: keep the sequence, replace its UIDs
            if element.VR == "SQ":
                return self.items(element, path)
            return self.empty(element, prefix, reason)
        if code == ActionCode.X_Z:  # Type 2 or 3: empty is valid for both
            return self.empty(element, prefix, reason)
        if element.VR == "SQ" and not required:  # a sequence's dummy would keep its items
            if code == ActionCode.X_D:
                return self.remove(container, element, prefix, code, reason)
            return self.empty(element, prefix, reason)
        # Z/D, X/D, X/Z/D of a value: the IOD may make it Type 1 in a module no table here
        # lists (Enhanced General Equipment, functional groups…), so a dummy value of its VR
        # keeps the file as valid as it was, and carries no identity
        return self.dummy(element, prefix, reason)

    def remove(self, container: Dataset, element: DataElement, prefix: str, code: str,
               reason: str) -> bool:
        self.record(prefix, element, code, reason, self.shown(element), "(removed)")
        tag = int(element.tag)
        del container[element.tag]
        if not prefix and tag & 0xFF01FFFF == OVERLAY_DATA:
            self._removed_overlays.add(tag >> 16)
        return True

    def drop_orphaned_overlays(self, ds: Dataset) -> None:
        """An Overlay Plane whose Overlay Data went is removed whole: its rows, columns and
        origin alone make an invalid module (PS3.3 C.9.2, Overlay Data is Type 1)."""
        for tag in [t for t in ds.keys() if t >> 16 in self._removed_overlays]:  # noqa: SIM118
            self.remove(ds, ds[tag], "", ActionCode.X,
                        "the rest of an overlay plane whose Overlay Data was removed")

    def _is_birth_date(self, element: DataElement) -> bool:
        values = element.value if isinstance(element.value, MultiValue) else [element.value]
        return any(str(v or "").strip() == self.birth_date for v in values)

    def empty(self, element: DataElement, prefix: str, reason: str) -> bool:
        before = self.shown(element)
        if not before:
            return False
        element.value = Sequence([]) if element.VR == "SQ" else None
        self.record(prefix, element, ActionCode.Z, reason, before, "")
        return True

    def dummy(self, element: DataElement, prefix: str, reason: str) -> bool:
        vr = element.VR
        if vr == "SQ":  # a dummy sequence: its items, each attribute by its own rule
            return self.items(element, self.label(prefix, int(element.tag)))
        if vr == "UI":
            return self.uid(element, prefix, reason)
        before = self.shown(element)
        if not before:  # an empty value identifies no one, and Type 2 allows it
            return False
        element.value = DUMMIES.get(vr, DUMMY_TEXT)
        self.record(prefix, element, ActionCode.D, reason, before, self.shown(element))
        return True

    def clean(self, element: DataElement, prefix: str, reason: str) -> bool:
        vr = element.VR
        if vr == "SQ":
            return self.items(element, self.label(prefix, int(element.tag)))
        if vr in ("DA", "DT"):
            if self.days is None:  # cleaning a date without the modified-dates option
                return self.dummy(element, prefix, reason)
            return self._shift(element, prefix, reason)
        if vr in TEXT_VRS or vr in ("PN", "AE"):
            return self._clean_text(element, prefix, reason)
        return False  # times, numbers and codes carry no identity of their own

    def uid(self, element: DataElement, prefix: str, reason: str) -> bool:
        if element.VR != "UI" or element.value in (None, ""):
            return self.empty(element, prefix, reason) if element.VR != "UI" else False
        before = self.shown(element)
        values = element.value if isinstance(element.value, MultiValue) else [element.value]
        new = [replacement_uid(self.config.project_key, str(v)) if v else v for v in values]
        element.value = new if len(new) > 1 else new[0]
        self.record(prefix, element, ActionCode.U, reason, before, self.shown(element))
        return True

    # the special cases -----------------------------------------------------------------------
    def _pseudonym(self, element: DataElement, prefix: str) -> bool:
        before = self.shown(element)
        is_name = int(element.tag) == PATIENT_NAME
        own = self.patient_name if is_name else self.patient_id
        if str(element.value or "") != own and prefix:  # another patient's, in an item
            return self.empty(element, prefix, "Basic Profile")
        element.value = self.pseudonym.patient_name if is_name else self.pseudonym.patient_id
        self.record(prefix, element, ActionCode.D, "pseudonym from the project's mapping",
                    before, self.shown(element))
        return True

    def _unlisted(self, element: DataElement, prefix: str) -> tuple[str, str]:
        """The rule of an attribute Table E.1-1 does not list."""
        vr = element.VR
        if vr in ("DA", "DT"):
            if ProfileOption.RETAIN_FULL_DATES in self.options:
                return ActionCode.K, ProfileOption.RETAIN_FULL_DATES.label
            if self.days is not None:
                return ActionCode.C, ProfileOption.RETAIN_MODIFIED_DATES.label
            return ActionCode.X, "a date the table does not list: removed (dates identify)"
        if vr == "PN":
            return ActionCode.Z, "a person name the table does not list: emptied"
        try:
            get_entry(int(element.tag))
        except KeyError:
            raise DeidRefused(
                f"{self.label(prefix, int(element.tag))} is not in the DICOM dictionary and no "
                "rule of the profile covers it; add it to dumb-mode rules or remove it "
                "first") from None
        return ActionCode.K, ""

    def _private(self, container: Dataset, element: DataElement, prefix: str,
                 keep_creators: set[int]) -> bool:
        tag = int(element.tag)
        if element.tag.is_private_creator and tag in keep_creators:
            return False
        if not element.tag.is_private_creator and self._is_safe(container, tag):
            path = self.label(prefix, tag)
            return element.VR == "SQ" and self.items(element, path)
        return self.remove(container, element, prefix, ActionCode.X,
                           "Basic Profile: private attributes")

    def _read_declarations(self, top: Dataset) -> None:
        """What the file's creator declares safe in its Private Data Element
        Characteristics Sequence (PS3.3 C.12.1.1.7): a whole block SAFE, or the listed
        non-identifying elements of a MIXED block."""
        for item in top.get("PrivateDataElementCharacteristicsSequence") or []:
            group = item.get("PrivateGroupReference")
            creator = str(item.get("PrivateCreatorReference", "") or "").strip().upper()
            if not isinstance(group, int) or group % 2 == 0 or not creator:
                continue
            status = str(item.get("BlockIdentifyingInformationStatus", "") or "").strip()
            if status == "SAFE":
                self._declared_blocks.add((creator, group))
            elif status == "MIXED":
                listed = item.get("NonidentifyingPrivateElements")
                values = listed if isinstance(listed, MultiValue | list) else [listed]
                self._safe |= {(creator, group, int(v) & 0xFF) for v in values
                               if isinstance(v, int)}

    def _creator(self, container: Dataset, tag: int) -> str | None:
        creator_tag = (tag & 0xFFFF0000) | ((tag & 0xFF00) >> 8)
        creator = container.get(creator_tag)
        return None if creator is None else str(creator.value).strip().upper()

    def _is_safe(self, container: Dataset, tag: int) -> bool:
        if ProfileOption.RETAIN_SAFE_PRIVATE not in self.options or (tag & 0xFFFF) < 0x1000:
            return False
        creator = self._creator(container, tag)
        if creator is None:
            return False
        return ((creator, tag >> 16, tag & 0xFF) in self._safe
                or (creator, tag >> 16) in self._declared_blocks)

    def _safe_creators(self, ds: Dataset) -> set[int]:
        if ProfileOption.RETAIN_SAFE_PRIVATE not in self.options or not (
                self._safe or self._declared_blocks):
            return set()
        return {(tag & 0xFFFF0000) | ((tag & 0xFF00) >> 8) for tag in ds.keys()  # noqa: SIM118
                if tag.is_private and not tag.is_private_creator and self._is_safe(ds, int(tag))}

    def _shift(self, element: DataElement, prefix: str, reason: str) -> bool:
        assert self.days is not None
        before = self.shown(element)
        if not before:
            return False
        shift = shift_date if element.VR == "DA" else shift_datetime
        values = element.value if isinstance(element.value, MultiValue) else [element.value]
        try:
            new = [shift(str(v), self.days) if v else v for v in values]
        except DateRefused as exc:
            raise DeidRefused(f"{self.label(prefix, int(element.tag))} is not a valid "
                              f"{element.VR} value (PS3.5 6.2), so it cannot be shifted"
                              ) from exc
        element.value = new if len(new) > 1 else (new[0] if new else None)
        self.record(prefix, element, ActionCode.C, reason, before, self.shown(element))
        return True

    def _clean_text(self, element: DataElement, prefix: str, reason: str) -> bool:
        if self._identifying is None or element.value in (None, ""):
            return False
        pattern = self._identifying
        values = element.value if isinstance(element.value, MultiValue) else [element.value]
        new = [pattern.sub(lambda m: "*" * len(m[0]), str(v)) for v in values]
        if new == [str(v) for v in values]:
            return False
        before = self.shown(element)
        element.value = new if len(new) > 1 else new[0]
        self.record(prefix, element, ActionCode.C, f"{reason}: identifying words masked",
                    before, self.shown(element))
        return True

    # reporting -------------------------------------------------------------------------------
    def record(self, prefix: str, element: DataElement, code: str, reason: str, before: str,
               after: str) -> None:
        tag = int(element.tag)
        self.changes.append(AttributeChange(self.label(prefix, tag), tag, element.keyword or "",
                                            str(code), reason or "Basic Profile", before, after))

    @staticmethod
    def label(prefix: str, tag: int) -> str:
        return f"{prefix}({tag >> 16:04X},{tag & 0xFFFF:04X})"

    @staticmethod
    def shown(element: DataElement) -> str:
        value = element.value
        if element.VR == "SQ":
            count = len(value or [])
            return f"{count} item{'s' if count != 1 else ''}" if count else ""
        if value is None or value == "":
            return ""
        if isinstance(value, bytes):
            return f"<{len(value)} bytes>"
        text = "\\".join(str(v) for v in value) if isinstance(value, MultiValue) else str(value)
        return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 1] + "…"


__all__ = ["SafePrivate", "Walk"]
