"""Datasets: each a TensorDataModule whose tensors are built once and sliced into batches."""
