"""Networks. Each takes `input_shape` and `out_features` first, then its family's options."""
