"""On-robot deployment without ROS: executing a policy's action chunks on the control clock.

`ChunkExecutor` turns asynchronously arriving chunks into one target per control tick; the
`policy_node` only feeds it observations' chunks and publishes what it returns.
"""

from dreamgen_core.deploy.chunks import ChunkConfig, ChunkExecutor, Submission
from dreamgen_core.deploy.timed import Chunk

__all__ = ["Chunk", "ChunkConfig", "ChunkExecutor", "Submission"]
