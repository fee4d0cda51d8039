"""Frontends turn models from other formats into cnncc Graphs."""
