"""`python -m br_parquet`: the `br-parquet` command (`export`, `inspect`)."""

import sys

from .cli import br_parquet_main

sys.exit(br_parquet_main())
