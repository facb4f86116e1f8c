"""Study C -- provable grokking in ridge regression (Xu, Vardi & Safran 2026).

Modules: :mod:`features` (feature maps, teachers, data), :mod:`theory` (Eq. 8 bounds and the
exact GD trajectory from the SVD of the feature matrix), :mod:`train` (iterative batched GD
engines and the sweep drivers), :mod:`plots` (figures and numbers tables).
"""
