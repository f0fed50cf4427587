"""`python -m bench` runs the training benchmark (bench.train)."""

from bench.train import main

raise SystemExit(main())
