"""The read side: custody (``custody``), findings (``findings``), the contract report
read from the projections (``report``) and the views that join them (``views``). Readers
use the projections' queries and codec, never a projection writer or the runner."""
