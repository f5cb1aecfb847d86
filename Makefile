# The two commands of the README. Everything else lives in tools/.
.PHONY: test run

test:
	@tools/bootstrap.sh
	@tools/test.sh

run:
	@tools/bootstrap.sh
	@tools/run.sh
