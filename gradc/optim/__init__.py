"""``gradc.optim``: SGD and Adam with torch's update rules, parameter groups and state dicts.

>>> opt = gradc.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
>>> opt.zero_grad(); loss.backward(); opt.step()
"""

from gradc.optim import lr_scheduler
from gradc.optim.adam import Adam
from gradc.optim.adamw import AdamW
from gradc.optim.optimizer import Optimizer, OptimizerError
from gradc.optim.rmsprop import RMSprop
from gradc.optim.sgd import SGD

__all__ = ["Optimizer", "OptimizerError", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]
