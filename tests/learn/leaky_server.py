"""An exercise done wrong: forks a child per connection and never calls wait(), so every
child it served stays a zombie. Prints `port P` once it listens."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import forking_server  # noqa: E402

forking_server.main(leak=True)
