"""Training: datasets, purged walk-forward splits, the layers, fusion, MLflow logging, promotion."""

import os

# OpenMP threads that finish their share wait for the next parallel region by spinning
# (libgomp's default: about 300,000 spins) unless told to sleep. scikit-learn's gradient
# boosting (its own libgomp) and torch (another libgomp) run thousands of short parallel
# regions per fit; on a 2-core machine shared with other processes, the spinning threads
# took the cores the working ones needed: a gradient-boosting fit took 25-45 s instead of
# 2.5 s, a deep-layer fit 54-67 s instead of 3-5 s (docs/BENCHMARKS.md, issue 17). libgomp
# reads the policy once, when it is loaded: this package is where TX first imports
# scikit-learn or torch, so it is set here, before either, unless the environment says
# otherwise.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
