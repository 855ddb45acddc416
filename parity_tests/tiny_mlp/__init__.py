"""A sixth model for test_sixth_model.py: a 2-layer MLP, its TF1 graph (legacy_mlp) and its Keras 3
port (eager_mlp), written as a new built-in's legacy_graph/ and eager_v2/ files would be."""
