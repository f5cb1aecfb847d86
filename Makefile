# The two commands of the README. Everything else lives in tools/.
.PHONY: test run day bench

test:
	@tools/bootstrap.sh
	@tools/test.sh

run:
	@tools/bootstrap.sh
	@tools/run.sh

# The scripted business day, against the Odoo and sandbox of a running `make run`.
day:
	@PYTHONPATH=tools .venv/bin/python tools/business_day.py

# C2B matching and posting benchmarks on a scratch copy of the test
# database; see docs/benchmarks.rst.
bench:
	@tools/bootstrap.sh
	@.venv/bin/python bench/run.py
