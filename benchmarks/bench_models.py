"""MiniLM sentence embeddings and a tiny GGUF decoder on metallic, next to sentence-transformers /
transformers on torch CPU, in the same run: the same as `metallic bench` (metallic/bench.py).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_models.py [--device host]

(The two OpenBLAS variables, set on the project's machines, slow the BLAS the baselines use: unset
them in this command only.) Needs the test extras.
"""

import sys

from metallic.bench import main

if __name__ == "__main__":
    sys.exit(main())
