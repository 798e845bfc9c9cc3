# The two commands of the README. Both install what is missing first.
.PHONY: run test

run:
	@bash .ci/portal

test:
	@bash .ci/test
