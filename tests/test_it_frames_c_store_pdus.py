"""The store job's direct C-STORE sending frames P-DATA-TF PDUs as PS3.8 9.3.5 says: PDVs
no larger than the peer's maximum, the command first, last-fragment bits, and a command
set that decodes to the C-STORE-RQ it stands for."""

import struct
from io import BytesIO

from pydicom.filereader import read_dataset

from netjobs.operations.store.pdata import command_set, fragment_spans, pdu_parts

CT = "1.2.840.10008.5.1.4.1.1.2"


def parse(pdu: bytes) -> tuple[int, int, bytes]:
    kind, _, length = struct.unpack(">BBL", pdu[:6])
    assert kind == 0x04 and length == len(pdu) - 6
    item_length, context_id, header = struct.unpack(">LBB", pdu[6:12])
    assert item_length == length - 4
    return context_id, header, pdu[12:]


def test_pdvs_respect_the_maximum_and_carry_the_right_headers() -> None:
    command = command_set(CT, "1.2.3.4", 7)
    data = bytes(range(256)) * 1200  # 307200 bytes
    framed = [header + bytes(fragment) for header, fragment in
              pdu_parts(3, command, iter([data[:100000], data[100000:]]), 16384)]
    parsed = [parse(p) for p in framed]
    assert all(len(p) - 6 <= 16384 for p in framed)
    assert parsed[0][:2] == (3, 0x03) and parsed[0][2] == command  # command, last fragment
    data_headers = [h for _, h, _ in parsed[1:]]
    assert data_headers[:-1] == [0x00] * (len(data_headers) - 1) and data_headers[-1] == 0x02
    assert b"".join(f for _, _, f in parsed[1:]) == data


def test_the_command_set_decodes_to_a_c_store_request() -> None:
    ds = read_dataset(BytesIO(command_set(CT, "1.2.3.4", 7)), is_implicit_VR=True,
                      is_little_endian=True)
    assert ds.CommandGroupLength == len(command_set(CT, "1.2.3.4", 7)) - 12
    assert (ds.CommandField, ds.MessageID, ds.CommandDataSetType) == (0x0001, 7, 0x0000)
    assert (ds.AffectedSOPClassUID, ds.AffectedSOPInstanceUID) == (CT, "1.2.3.4")


def test_fragments_cover_the_value_exactly_once() -> None:
    assert list(fragment_spans(0, 1000)) == [(0, 0, True)]  # an empty data set: one PDV
    assert list(fragment_spans(994 * 2, 1000)) == [(0, 994, False), (994, 994, True)]
    spans = list(fragment_spans(300001, 16384))
    assert [last for _, _, last in spans] == [False] * (len(spans) - 1) + [True]
    assert sum(size for _, size, _ in spans) == 300001
    assert all(start == sum(s for _, s, _ in spans[:i]) for i, (start, _, _) in
               enumerate(spans))
    assert all(size <= 16384 - 6 for _, size, _ in spans)
