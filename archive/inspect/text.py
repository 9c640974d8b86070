"""The dump as plain text, in dcmdump's layout."""

from archive.inspect.dump import Dump


def dump_text(result: Dump) -> str:
    lines = []
    for row in result.rows:
        indent = "  " * row.depth
        vr = row.vr.split(" or ")[0] if row.vr else "  "
        if row.vr_from_dictionary:
            vr = f"{vr}?"
        length = "u/l" if row.undefined_length else ("" if row.length is None else row.length)
        offset = "" if row.offset is None else f"@{row.offset:<8}"
        name = row.keyword or row.name
        creator = f" [{row.creator}]" if row.creator else ""
        lines.append(f"{offset}{indent}{row.tag_text} {vr} {row.value}  # {length}, {row.vm} "
                     f"{name}{creator}".rstrip())
    return "\n".join(lines) + "\n"
