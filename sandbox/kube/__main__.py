"""``python -m sandbox.kube --port 0 --kubeconfig PATH [--time-factor F]``."""

from __future__ import annotations

import sys

from sandbox.kube.cli import main

if __name__ == "__main__":
    sys.exit(main())
