"""Run the sandbox's command line: `python -m daraja_sandbox --port 8765`."""
from .cli import main

main()
