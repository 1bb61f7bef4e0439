"""PyTorch models: loading, inputs, training, distributed runs, evaluation."""
