"""Figures of what happens inside a network: activation histograms (``nnlab inspect -o``), gradient
diagnostics over the epochs, every hidden unit over the input plane, and the decision boundary or fitted
curve over the epochs as an animation (``nnlab plot --gradients``, ``--neurons``, ``--animate``)."""
