"""The consultation wizard: intake review → screening → assessment → formulation → course plan → consent."""
