"""Writes seed corpora for the fuzz targets from the shared codec vectors.

    python rust/core/fuzz/seeds.py [path/to/codec-vectors.json]

The corpora go to `rust/core/fuzz/corpus/<target>/` (git-ignored).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_VECTORS = HERE.parents[3] / "shared" / "fixtures" / "codec-vectors.json"

# Vector kinds → the target whose input format they are.
TARGETS = {
    "keys": ("br_sst_key", "record_key", "index_key"),
    "write_cf": ("write_cf_value",),
    "row_v1": ("row_v1",),
    "row_v2": ("row_v2", "br_sst_default_cf_value"),
    "datum": ("datum", "compact_bytes"),
    "decimal": ("decimal_bin",),
    "json": ("json_binary", "row_v2_payload_json"),
}


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_VECTORS
    if not path.is_file():
        print(f"no codec vectors at {path}; fuzzing starts from an empty corpus")
        return 0
    vectors = json.loads(path.read_text())
    for target, prefixes in TARGETS.items():
        out = HERE / "corpus" / target
        out.mkdir(parents=True, exist_ok=True)
        n = 0
        for v in vectors:
            if v["kind"].startswith(prefixes):
                data = bytes.fromhex(v["input_hex"])
                if target == "decimal" and "precision" in json.dumps(v["expected"]):
                    e = v["expected"]
                    data = bytes([e.get("precision", 0), e.get("frac", 0)]) + data
                (out / hashlib.sha1(data).hexdigest()).write_bytes(data)
                n += 1
        print(f"{target}: {n} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
