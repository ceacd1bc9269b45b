"""Append-only, hash-chained access log; ``mesoclinic audit verify`` checks the chain."""
