"""Code generation: graphs to numba source text (the CPU and CUDA backends land here)."""
