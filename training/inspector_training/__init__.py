"""Training side of inspector: teacher pre-training, student training, fused ONNX export."""
