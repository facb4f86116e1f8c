"""Study B -- Lyu et al. 2024: the early/late implicit-bias dichotomy that induces grokking.

``data``: the four problems (sparse/misgrokking linear classification, modular addition, rank-1
matrix completion); ``models``: diagonal linear nets, factorised matrices and two-layer ReLU nets
for the batched engine; ``analysis``: transition detection and max-margin solvers; ``runs``:
grids of replicas; ``plots``: the paper-layout figures.
"""
