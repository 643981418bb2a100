"""Line numbers of refused rows in a file larger than one DuckDB read buffer (read in parallel)."""

from __future__ import annotations

from pathlib import Path

from kwartier.capture.headend_file import find_lines

LINES = 1_500_000  # about 60 MB: several of DuckDB's read buffers, so the scan runs on every core


def test_find_lines_names_each_refused_row_by_its_line_in_a_large_file(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w") as out:
        out.write("ean,meter,channel,start,resolution_min,value,unit,status\n")
        for i in range(LINES):
            text = "repeated,row" if i % 500_000 == 7 else f"{i:012d},m,offtake,day,x,15,1,Wh"
            out.write(text + "\n")
    row = "{:012d},m,offtake,day,x,15,1,Wh".format
    wanted = [row(LINES - 1), "repeated,row", row(3), "repeated,row", "repeated,row", "not in the file"]
    wanted += [row(777_777)]
    # line = index + 2 (the header is line 1); repeated texts take their lines in order
    assert find_lines(path, wanted) == [LINES + 1, 9, 5, 500_009, 1_000_009, 0, 777_779]
