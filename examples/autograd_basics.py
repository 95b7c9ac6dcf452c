"""Eager autograd in gradc, written exactly as in PyTorch: fit y = 3x - 1 with gradient descent."""

import gradc

gradc.manual_seed(0)
x = gradc.linspace(-1, 1, 64).unsqueeze(1)
y = 3 * x - 1 + 0.05 * gradc.randn(64, 1)
w = gradc.zeros(1, 1, requires_grad=True)
b = gradc.zeros(1, requires_grad=True)
for step in range(200):
    loss = ((x @ w + b - y) ** 2).mean()
    loss.backward()
    with gradc.no_grad():
        w -= 0.5 * w.grad
        b -= 0.5 * b.grad
    w.grad = None
    b.grad = None
    if step % 50 == 0:
        print(f"step {step:3d}  loss {loss.item():.4f}")
print(f"w = {w.item():.3f} (true 3), b = {b.item():.3f} (true -1), loss {loss.item():.5f}")
