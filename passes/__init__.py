"""Graph -> Graph optimization passes and the pass manager."""
