"""Regenerates the `*_pb2.py` / `*_pb2.pyi` modules from the `.proto` files here.

Run as `make proto` (needs the `grpcio-tools` dev dependency, which pins protoc).
`tests/python/test_proto.py` fails when the checked-in modules are stale.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent
PROTOS = ("brpb.proto", "encryptionpb.proto", "kvrpcpb.proto")


def generate(out_dir: Path) -> list[Path]:
    """Runs protoc into `out_dir`; returns the files written."""
    from grpc_tools import protoc  # dev dependency

    args = [
        "protoc",
        f"-I{PROTO_DIR}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        *(str(PROTO_DIR / p) for p in PROTOS),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed")
    written = sorted(out_dir.glob("*_pb2.py*"))
    for path in written:
        # protoc writes top-level imports; the modules live in a package.
        text = re.sub(r"^import (\w+_pb2) as", r"from . import \1 as", path.read_text(), flags=re.M)
        # Message classes name their real module, so that pickle finds them by reference.
        text = re.sub(
            r"BuildTopDescriptorsAndMessages\(DESCRIPTOR, '(\w+_pb2)'",
            rf"BuildTopDescriptorsAndMessages(DESCRIPTOR, '{__package__}.\1'",
            text,
        )
        path.write_text(text)
    return written


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        for path in generate(Path(tmp)):
            (PROTO_DIR / path.name).write_text(path.read_text())
            print(f"wrote {PROTO_DIR / path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
