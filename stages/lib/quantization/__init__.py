"""INT8 methods: the method registry, the scheme, the NNCF and ONNX Runtime backends."""
