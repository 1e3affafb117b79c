"""Long-running fault finders the lead runs on demand (``make faults``), outside the
normal suite; the suite runs bounded versions of them."""
