"""The benchmarks behind ``mesoclinic bench …`` (they print JSON; never timed unit tests)."""
