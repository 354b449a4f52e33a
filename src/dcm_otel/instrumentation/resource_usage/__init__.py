"""Resource usage: Docker host health, job container usage from the Engine's stats, host and process figures.

Docker hosts are probed and running job containers sampled on a background schedule, in the process kind
``resource_metrics`` chooses (the job processor by default), so no request or job thread ever waits on an
Engine; the metric callbacks only read the latest results. Host (``system.*``) and process (``process.*``)
figures are read with psutil at collection time. Names are in :mod:`.attributes`.
"""

from .instrumentor import ResourcesInstrumentor

__all__ = ["ResourcesInstrumentor"]
