"""Write the flow log fixtures of tests/data/flowlogs: `python -m tests.data.flowlogs.make`.

Small files in the S3 delivery layout, every value invented: the default format, a custom
version-5 format in another column order, a file with malformed lines, a headerless file, a file
whose first line is not a header, and a custom format without start/end (time from the name).
"""

from __future__ import annotations

import gzip
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCOUNT = "111122223333"
PREFIX = f"AWSLogs/{ACCOUNT}/vpcflowlogs/eu-west-1/2024/06/03"
ENI = "eni-0f10a0000000000a1"
INSTANCE = "i-0f10a0000000000a1"

FILES: dict[str, str] = {
    # Default format with its header: an SSH connection in, an HTTPS call out, NODATA, SKIPDATA.
    f"{PREFIX}/{ACCOUNT}_vpcflowlogs_eu-west-1_fl-0default000000001_20240603T1005Z_aa01.log.gz": """\
version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
2 111122223333 eni-0f10a0000000000a1 198.51.100.7 10.1.0.25 50514 22 6 12 2200 1717409100 1717409160 ACCEPT OK
2 111122223333 eni-0f10a0000000000a1 10.1.0.25 198.51.100.7 22 50514 6 10 5400 1717409100 1717409160 ACCEPT OK
2 111122223333 eni-0f10a0000000000a1 10.1.0.25 52.94.0.10 40222 443 6 20 3000 1717409110 1717409170 ACCEPT OK
2 111122223333 eni-0f10a0000000000a1 52.94.0.10 10.1.0.25 443 40222 6 30 90000 1717409110 1717409170 ACCEPT OK
2 111122223333 eni-0f10a0000000000a1 203.0.113.99 10.1.0.25 61000 3389 6 1 40 1717409120 1717409180 REJECT OK
2 111122223333 eni-0f10a0000000000a2 - - - - - - - 1717409100 1717409400 - NODATA
2 111122223333 eni-0f10a0000000000a3 - - - - - - - 1717409100 1717409400 - SKIPDATA
""",
    # Custom version 5, fields in another order, with instance-id and flow-direction.
    f"{PREFIX}/{ACCOUNT}_vpcflowlogs_eu-west-1_fl-0custom0000000002_20240603T1010Z_bb02.log.gz": """\
instance-id interface-id flow-direction srcaddr dstaddr srcport dstport protocol bytes packets start end action log-status version vpc-id pkt-dst-aws-service traffic-path
i-0f10a0000000000a1 eni-0f10a0000000000a1 egress 10.1.0.25 10.1.7.7 41000 5432 6 7000 9 1717409400 1717409460 ACCEPT OK 5 vpc-0f10a000000000001 - 1
i-0f10a0000000000a1 eni-0f10a0000000000a1 ingress 10.1.7.7 10.1.0.25 5432 41000 6 64000 50 1717409400 1717409460 ACCEPT OK 5 vpc-0f10a000000000001 - -
i-0f10a0000000000a1 eni-0f10a0000000000a1 egress 10.1.0.25 52.218.0.1 41010 443 6 1500 4 1717409410 1717409470 ACCEPT OK 5 vpc-0f10a000000000001 S3 8
""",
    # Malformed lines (3 and 5) among good ones: counted with their line numbers, the rest loads.
    f"{PREFIX}/{ACCOUNT}_vpcflowlogs_eu-west-1_fl-0default000000001_20240603T1015Z_cc03.log.gz": """\
version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
2 111122223333 eni-0f10a0000000000a1 10.1.0.25 52.94.0.11 40300 443 6 5 700 1717409700 1717409760 ACCEPT OK
2 111122223333 eni-0f10a0000000000a1 10.1.0.25 52.94.0.11 40300 443 6 5 700 1717409700
2 111122223333 eni-0f10a0000000000a1 52.94.0.11 10.1.0.25 443 40300 6 6 8800 1717409700 1717409760 ACCEPT OK
2 111122223333 eni-0f10a0000000000a1 10.1.0.25 not-an-ip 40301 443 6 5 700 1717409700 1717409760 ACCEPT OK
2 111122223333 eni-0f10a0000000000a1 10.1.0.25 52.94.0.12 40302 443 6 5 700 1717409701 1717409761 ACCEPT OK
""",
    # No header (a CloudWatch export): read as the default format, lines counted from 1.
    "exports/headerless-default.log": """\
2 111122223333 eni-0f10a0000000000a1 10.1.0.25 52.94.0.13 40400 443 6 3 300 1717410000 1717410060 ACCEPT OK
2 111122223333 eni-0f10a0000000000a1 52.94.0.13 10.1.0.25 443 40400 6 3 900 1717410000 1717410060 ACCEPT OK
""",
    # The first line is neither a header nor a default-format record: the object fails.
    f"{PREFIX}/{ACCOUNT}_vpcflowlogs_eu-west-1_fl-0default000000001_20240603T1020Z_dd04.log.gz": """\
this is not a flow log
2 111122223333 eni-0f10a0000000000a1 10.1.0.25 52.94.0.13 40400 443 6 3 300 1717410000 1717410060 ACCEPT OK
""",
    # A custom format without start and end: the records take the file's delivery time.
    f"{PREFIX}/{ACCOUNT}_vpcflowlogs_eu-west-1_fl-0nostart000000003_20240603T1025Z_ee05.log.gz": """\
interface-id srcaddr dstaddr dstport protocol action future-field
eni-0f10a0000000000a1 10.1.0.25 52.94.0.14 443 6 ACCEPT x1
""",
}


def write_all(root: Path = HERE) -> list[Path]:
    written = []
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode()
        if name.endswith(".gz"):
            data = gzip.compress(data, mtime=0)
        path.write_bytes(data)
        written.append(path)
    return written


def second_flow_log(root: Path) -> Path:
    """The first file's flows as a second flow log (fl-0second...) delivers them: another custom
    column order, the same records, written under root in the delivery layout."""
    lines = FILES[next(iter(FILES))].splitlines()[1:]
    fields = (
        "interface-id version account-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
        "action log-status"
    )
    reordered = [" ".join([line.split()[2], *line.split()[:2], *line.split()[3:]]) for line in lines]
    name = f"{ACCOUNT}_vpcflowlogs_eu-west-1_fl-0second000000009_20240603T1005Z_ff09.log"
    other = root / "AWSLogs" / ACCOUNT / "vpcflowlogs" / "eu-west-1" / name
    other.parent.mkdir(parents=True)
    other.write_text("\n".join([fields, *reordered]) + "\n")
    return other


def path(index: int, root: Path = HERE) -> Path:
    return root / list(FILES)[index]


if __name__ == "__main__":
    for written in write_all():
        print(written.relative_to(HERE))
