"""General-purpose media application profiles (PS3.11) as DCMTK dcmmkdir enforces them.

The allowed transfer syntaxes are those dcmmkdir 3.6.7 accepts with each -P option (checked
by tests/test_it_media_profiles.py): the JPEG profiles take JPEG baseline, extended and
lossless SV1 (not plain process 14, 1.2.840.10008.1.2.4.57); the J2K profiles take JPEG 2000
but no JPEG; the MPEG profiles take only their video syntax (dcmmkdir also wants a
multi-frame image then, and refuses Explicit VR Little Endian for them).
"""

from __future__ import annotations

from enum import StrEnum

from pydicom.uid import UID, AllTransferSyntaxes

EXPLICIT_LE = "1.2.840.10008.1.2.1"
_JPEG = frozenset({EXPLICIT_LE, "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51",
                   "1.2.840.10008.1.2.4.70"})
_J2K = frozenset({EXPLICIT_LE, "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"})

_CD = 700 * 1024 * 1024
_DVD = 4_700_000_000
_BD = 25_000_000_000


class MediaProfile(StrEnum):
    """A general-purpose media application profile (dcmmkdir -P option in `dcmmkdir_option`)."""

    STD_GEN_CD = "STD-GEN-CD"
    STD_GEN_DVD_JPEG = "STD-GEN-DVD-JPEG"
    STD_GEN_DVD_J2K = "STD-GEN-DVD-J2K"
    STD_GEN_BD_JPEG = "STD-GEN-BD-JPEG"
    STD_GEN_BD_J2K = "STD-GEN-BD-J2K"
    STD_GEN_BD_MPEG2_MPML = "STD-GEN-BD-MPEG2-MPML"
    STD_GEN_BD_MPEG2_MPHL = "STD-GEN-BD-MPEG2-MPHL"
    STD_GEN_BD_MPEG4_HPLV41 = "STD-GEN-BD-MPEG4-HPLV41"
    STD_GEN_BD_MPEG4_HPLV41BD = "STD-GEN-BD-MPEG4-HPLV41BD"
    STD_GEN_BD_MPEG4_HPLV42_2D = "STD-GEN-BD-MPEG4-HPLV42-2D"
    STD_GEN_BD_MPEG4_HPLV42_3D = "STD-GEN-BD-MPEG4-HPLV42-3D"
    STD_GEN_BD_MPEG4_SHPLV42 = "STD-GEN-BD-MPEG4-SHPLV42"
    STD_DVD_MPEG2_MPML = "STD-DVD-MPEG2-MPML"
    STD_GEN_USB_JPEG = "STD-GEN-USB-JPEG"
    STD_GEN_USB_J2K = "STD-GEN-USB-J2K"
    STD_GEN_MIME = "STD-GEN-MIME"

    @property
    def label(self) -> str:
        """What an operator reads: medium and compression."""
        return _FACTS[self][0]

    @property
    def allowed_syntaxes(self) -> frozenset[str]:
        """Transfer syntax UIDs a file on this medium may have."""
        return _FACTS[self][1]

    @property
    def capacity_bytes(self) -> int | None:
        """Usable size of one medium; None when there is no fixed size (USB, MIME)."""
        return _FACTS[self][2]

    @property
    def dcmmkdir_option(self) -> str:
        """The dcmmkdir command-line option selecting this profile."""
        return _FACTS[self][3]

    def refusal(self, transfer_syntax_uid: str) -> str | None:
        """Why a file in that syntax may not go on this medium; None when it may."""
        uid = str(transfer_syntax_uid).strip()
        if uid in self.allowed_syntaxes:
            return None
        name = UID(uid).name if uid else "no transfer syntax"
        shown = f"{name} ({uid})" if uid and name != uid else (uid or name)
        return (
            f"transfer syntax {shown} is not allowed by media profile {self.value}"
            f" ({self.label}); allowed: {_names(self.allowed_syntaxes)}"
        )


def _names(uids: frozenset[str]) -> str:
    return ", ".join(sorted(UID(uid).name for uid in uids))


def _mpeg(suffix: str) -> frozenset[str]:
    return frozenset({"1.2.840.10008.1.2.4." + suffix})


_FACTS: dict[MediaProfile, tuple[str, frozenset[str], int | None, str]] = {
    MediaProfile.STD_GEN_CD: ("CD-R or DVD-RAM, uncompressed", frozenset({EXPLICIT_LE}), _CD,
                              "-Pgp"),
    MediaProfile.STD_GEN_DVD_JPEG: ("DVD with JPEG", _JPEG, _DVD, "-Pdv"),
    MediaProfile.STD_GEN_DVD_J2K: ("DVD with JPEG 2000", _J2K, _DVD, "-Pd2"),
    MediaProfile.STD_GEN_BD_JPEG: ("Blu-ray with JPEG", _JPEG, _BD, "-Pbd"),
    MediaProfile.STD_GEN_BD_J2K: ("Blu-ray with JPEG 2000", _J2K, _BD, "-Pb2"),
    MediaProfile.STD_GEN_BD_MPEG2_MPML: ("Blu-ray with MPEG2 MP@ML video", _mpeg("100"), _BD,
                                         "-Pbm"),
    MediaProfile.STD_GEN_BD_MPEG2_MPHL: ("Blu-ray with MPEG2 MP@HL video", _mpeg("101"), _BD,
                                         "-Pbh"),
    MediaProfile.STD_GEN_BD_MPEG4_HPLV41: ("Blu-ray with MPEG-4 AVC/H.264 HiP@4.1 video",
                                           _mpeg("102"), _BD, "-Pba"),
    MediaProfile.STD_GEN_BD_MPEG4_HPLV41BD: (
        "Blu-ray with BD-compatible MPEG-4 AVC/H.264 HiP@4.1 video", _mpeg("103"), _BD, "-Pbb"
    ),
    MediaProfile.STD_GEN_BD_MPEG4_HPLV42_2D: (
        "Blu-ray with MPEG-4 AVC/H.264 HiP@4.2 2D video", _mpeg("104"), _BD,
        "--general-bd-mpeg4-hp2d",
    ),
    MediaProfile.STD_GEN_BD_MPEG4_HPLV42_3D: (
        "Blu-ray with MPEG-4 AVC/H.264 HiP@4.2 3D video", _mpeg("105"), _BD,
        "--general-bd-mpeg4-hp3d",
    ),
    MediaProfile.STD_GEN_BD_MPEG4_SHPLV42: (
        "Blu-ray with MPEG-4 AVC/H.264 Stereo HiP@4.2 video", _mpeg("106"), _BD,
        "--general-bd-mpeg4-hpst",
    ),
    MediaProfile.STD_DVD_MPEG2_MPML: ("DVD with MPEG2 MP@ML video", _mpeg("100"), _DVD, "-Pmp"),
    MediaProfile.STD_GEN_USB_JPEG: ("USB or flash memory with JPEG", _JPEG, None, "-Pfl"),
    MediaProfile.STD_GEN_USB_J2K: ("USB or flash memory with JPEG 2000", _J2K, None, "-Pf2"),
    MediaProfile.STD_GEN_MIME: ("MIME (e-mail), any transfer syntax",
                                frozenset(str(uid) for uid in AllTransferSyntaxes), None, "-Pmi"),
}
