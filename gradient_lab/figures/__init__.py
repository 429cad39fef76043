"""The figures, drawn from saved results: one run's (`training`), many seeds' and the studies' (`many_seeds`),
and the theory's (`theory`), each written by `saving.save`. Each `draw_*` returns a matplotlib Figure, each
`save_*` writes it as a PNG. Imports matplotlib, NumPy and our statistics and theory, never Keras or TensorFlow.
"""
